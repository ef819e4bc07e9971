"""The cross-entropy method over action sequences."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from planners.base import Objective, PlanResult, SamplingPlanner
from planners.sampling import clipped_normal, truncated_normal


class CEM(SamplingPlanner):
    """Sample a Gaussian over sequences, refit it to the elites, repeat; return the final mean.

    ``momentum`` blends the old mean and std into the refit (0: plain CEM). ``sampling`` chooses a normal
    clipped to the bounds or truncated to them (no probability mass piles up on the bounds).
    """

    def __init__(self, horizon: int, action_dim: int, low: float | Tensor = -1.0, high: float | Tensor = 1.0, *,
                 population: int = 500, elites: int = 50, iterations: int = 5, momentum: float = 0.0,
                 init_std: float = 1.0, min_std: float = 0.0, sampling: Literal["clip", "truncated"] = "truncated",
                 seed: int = 0, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> None:
        super().__init__(horizon, action_dim, low, high, iterations=iterations, seed=seed, device=device, dtype=dtype)
        if not 1 <= elites <= population:
            raise ValueError(f"need 1 <= elites <= population, got elites={elites}, population={population}")
        if not 0.0 <= momentum < 1.0 or init_std <= 0 or min_std < 0:
            raise ValueError(f"need 0 <= momentum < 1, init_std > 0, min_std >= 0; got {momentum}, {init_std}, {min_std}")
        if sampling not in ("clip", "truncated"):
            raise ValueError(f"sampling must be 'clip' or 'truncated', got {sampling!r}")
        self.population, self.elites, self.momentum = population, elites, momentum
        self.init_std, self.min_std = init_std, min_std
        self.sample = truncated_normal if sampling == "truncated" else clipped_normal

    def _optimize(self, objective: Objective, mean: Tensor) -> PlanResult:
        std = (self.init_std * self.half_range).expand_as(mean).clone()
        history = []
        for _ in range(self.iterations):
            actions = self.sample(mean, std, self.low, self.high, self.population, self.generator)
            returns = self.score(objective, actions)
            top = returns.topk(self.elites).indices
            elite = actions[top]
            mean = self.momentum * mean + (1 - self.momentum) * elite.mean(0)
            std = (self.momentum * std + (1 - self.momentum) * elite.std(0, unbiased=False)).clamp(min=self.min_std)
            history.append(float(returns[top[0]]))
        plan = self.clip(mean)
        value = float(self.score(objective, plan[None])[0])
        return PlanResult(plan, value, self.iterations * self.population + 1, tuple(history))
