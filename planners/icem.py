"""iCEM: the cross-entropy method with colored noise, a decaying population and elites kept across iterations
and time steps (Pinneri et al., 2020)."""

from __future__ import annotations

import torch
from torch import Tensor

from planners.base import Objective, PlanResult, SamplingPlanner
from planners.sampling import colored_noise


class ICEM(SamplingPlanner):
    """CEM with
    - colored noise of exponent ``beta`` over time (smooth sequences explore better than white noise);
    - population N·decay^(-i) at iteration i (never below 2·elites);
    - a fraction ``keep_elites`` of the previous iteration's elites added to the samples, and of the previous
      plan's elites, shifted by one step, at the first iteration;
    - the mean itself scored at the last iteration;
    and it returns the best sequence ever sampled rather than the mean.
    """

    def __init__(self, horizon: int, action_dim: int, low: float | Tensor = -1.0, high: float | Tensor = 1.0, *,
                 population: int = 500, elites: int = 50, iterations: int = 5, beta: float = 2.0, decay: float = 1.25,
                 keep_elites: float = 0.3, momentum: float = 0.1, init_std: float = 0.5, min_std: float = 0.0,
                 seed: int = 0, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> None:
        super().__init__(horizon, action_dim, low, high, iterations=iterations, seed=seed, device=device, dtype=dtype)
        if not 1 <= elites <= population or decay < 1 or not 0 <= keep_elites <= 1 or not 0 <= momentum < 1 or init_std <= 0:
            raise ValueError("need 1 <= elites <= population, decay >= 1, 0 <= keep_elites <= 1, 0 <= momentum < 1, init_std > 0; "
                             f"got {elites}, {population}, {decay}, {keep_elites}, {momentum}, {init_std}")
        self.population, self.elites, self.beta, self.decay = population, elites, beta, decay
        self.keep_elites, self.momentum, self.init_std, self.min_std = keep_elites, momentum, init_std, min_std
        self._elite_memory: Tensor | None = None

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._elite_memory = None

    def population_at(self, iteration: int) -> int:
        """Samples drawn at ``iteration`` (0-based)."""
        return max(int(self.population * self.decay ** (-iteration)), 2 * self.elites)

    def _optimize(self, objective: Objective, mean: Tensor) -> PlanResult:
        std = (self.init_std * self.half_range).expand_as(mean).clone()
        keep = int(round(self.keep_elites * self.elites))
        kept = None
        if self._elite_memory is not None and keep:
            last = self._elite_memory[:keep]
            kept = torch.cat([last[:, 1:], last[:, -1:]], 1)  # shifted by one step
        best_actions, best_return = mean, -float("inf")
        history, evaluations = [], 0
        for i in range(self.iterations):
            noise = colored_noise(self.population_at(i), self.horizon, self.action_dim, self.beta, self.generator, self.device, self.dtype)
            actions = self.clip(mean + std * noise)
            if kept is not None:
                actions = torch.cat([actions, kept], 0)
            if i == self.iterations - 1:
                actions = torch.cat([actions, self.clip(mean)[None]], 0)
            returns = self.score(objective, actions)
            evaluations += actions.shape[0]
            top = returns.topk(min(self.elites, actions.shape[0])).indices
            elite = actions[top]
            if float(returns[top[0]]) > best_return:
                best_return, best_actions = float(returns[top[0]]), elite[0]
            mean = self.momentum * mean + (1 - self.momentum) * elite.mean(0)
            std = (self.momentum * std + (1 - self.momentum) * elite.std(0, unbiased=False)).clamp(min=self.min_std)
            kept = elite[:keep] if keep else None
            history.append(best_return)
        self._elite_memory = elite.detach().clone()
        return PlanResult(self.clip(best_actions), best_return, evaluations, tuple(history))
