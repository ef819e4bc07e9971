"""The optimizer interface: a batched objective over action sequences and box bounds, nothing else.

An objective maps actions (population, horizon, action_dim) to returns (population,), higher is better.
Optimizers never see a model, so they plan equally through LaWM, the baseline, or any analytic function.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

Objective = Callable[[Tensor], Tensor]
"""actions (population, horizon, action_dim) -> returns (population,)."""


@dataclass(frozen=True)
class PlanResult:
    """The outcome of one ``plan`` call."""

    actions: Tensor
    """The plan to execute, (horizon, action_dim), inside the bounds."""
    value: float
    """The objective's value of ``actions`` as last evaluated (the best sample's return for planners that return it)."""
    evaluations: int
    """Action sequences the objective was asked to score."""
    history: tuple[float, ...]
    """Best return found after each iteration."""


def as_bounds(bound: float | Tensor, action_dim: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """A scalar or (action_dim,) bound as an (action_dim,) tensor."""
    value = torch.as_tensor(bound, device=device, dtype=dtype)
    if value.dim() == 0:
        value = value.expand(action_dim)
    if value.shape != (action_dim,):
        raise ValueError(f"a bound must be a scalar or have shape ({action_dim},), got {tuple(value.shape)}")
    return value.clone()


class SamplingPlanner(ABC):
    """Shared state of the sampling planners: bounds, horizon, seeded generator and the warm start.

    After each ``plan`` the solution is kept; the next call starts from it shifted by one step (the last
    step repeated), which is the receding-horizon warm start of MPC. ``reset`` forgets it.
    """

    def __init__(self, horizon: int, action_dim: int, low: float | Tensor = -1.0, high: float | Tensor = 1.0, *,
                 iterations: int = 5, seed: int = 0, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> None:
        if horizon < 1 or action_dim < 1 or iterations < 1:
            raise ValueError(f"horizon, action_dim and iterations must be >= 1, got {horizon}, {action_dim}, {iterations}")
        self.horizon, self.action_dim, self.iterations = horizon, action_dim, iterations
        self.device, self.dtype = torch.device(device), dtype
        self.low = as_bounds(low, action_dim, self.device, dtype)
        self.high = as_bounds(high, action_dim, self.device, dtype)
        if not torch.all(self.low < self.high):
            raise ValueError(f"need low < high in every action dimension, got {self.low.tolist()} and {self.high.tolist()}")
        self.seed = seed
        self.generator = torch.Generator(self.device).manual_seed(seed)
        self._previous: Tensor | None = None

    @property
    def center(self) -> Tensor:
        return (self.low + self.high) / 2

    @property
    def half_range(self) -> Tensor:
        return (self.high - self.low) / 2

    def reset(self, seed: int | None = None) -> None:
        """Forget the warm start (a new episode); reseed the generator when ``seed`` is given."""
        self._previous = None
        if seed is not None:
            self.seed = seed
            self.generator.manual_seed(seed)

    def initial_mean(self) -> Tensor:
        """The previous solution shifted by one step, or the middle of the box."""
        if self._previous is None:
            return self.center.expand(self.horizon, -1).clone()
        return torch.cat([self._previous[1:], self._previous[-1:]], 0)

    def clip(self, actions: Tensor) -> Tensor:
        return torch.maximum(torch.minimum(actions, self.high), self.low)

    def score(self, objective: Objective, actions: Tensor) -> Tensor:
        """Objective values of (population, horizon, action_dim) actions, checked for shape; NaN scores -inf."""
        returns = objective(actions)
        if returns.shape != actions.shape[:1]:
            raise ValueError(f"the objective must return shape ({actions.shape[0]},), got {tuple(returns.shape)}")
        return torch.nan_to_num(returns.to(self.dtype), nan=-float("inf"))

    def plan(self, objective: Objective) -> PlanResult:
        """Optimize the action sequence of ``objective``; the result is kept for the next warm start."""
        result = self._optimize(objective, self.initial_mean())
        if not torch.all((result.actions >= self.low) & (result.actions <= self.high)):
            raise AssertionError("planner produced actions outside the bounds")
        self._previous = result.actions.detach().clone()
        return result

    @abstractmethod
    def _optimize(self, objective: Objective, mean: Tensor) -> PlanResult:
        """Optimize from the initial mean (horizon, action_dim)."""
