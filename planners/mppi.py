"""Model predictive path integral control: a return-weighted average of perturbed sequences."""

from __future__ import annotations

import torch
from torch import Tensor

from planners.base import Objective, PlanResult, SamplingPlanner
from planners.sampling import clipped_normal


class MPPI(SamplingPlanner):
    """Perturb the mean with Gaussian noise of fixed std, weight each sample by exp(return / temperature)
    (softmax over the population, so any return scale is safe), move the mean to the weighted average."""

    def __init__(self, horizon: int, action_dim: int, low: float | Tensor = -1.0, high: float | Tensor = 1.0, *,
                 population: int = 500, iterations: int = 5, temperature: float = 0.5, noise_std: float = 0.5,
                 seed: int = 0, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> None:
        super().__init__(horizon, action_dim, low, high, iterations=iterations, seed=seed, device=device, dtype=dtype)
        if population < 1 or temperature <= 0 or noise_std <= 0:
            raise ValueError(f"need population >= 1, temperature > 0, noise_std > 0; got {population}, {temperature}, {noise_std}")
        self.population, self.temperature, self.noise_std = population, temperature, noise_std

    def _optimize(self, objective: Objective, mean: Tensor) -> PlanResult:
        std = (self.noise_std * self.half_range).expand_as(mean)
        history = []
        for _ in range(self.iterations):
            actions = clipped_normal(mean, std, self.low, self.high, self.population, self.generator)
            actions[0] = mean  # the current mean competes too, so a good plan is never averaged away entirely
            returns = self.score(objective, actions)
            weights = torch.softmax(returns / self.temperature, 0)
            weights = torch.nan_to_num(weights, nan=1.0 / self.population)  # every return -inf
            mean = torch.einsum("p,phm->hm", weights, actions)
            history.append(float(returns.max()))
        plan = self.clip(mean)
        value = float(self.score(objective, plan[None])[0])
        return PlanResult(plan, value, self.iterations * self.population + 1, tuple(history))
