"""Planner options shared by ``lawm demo``, ``lawm mbrl`` and the planning benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from planners import PLANNERS
from planners.base import SamplingPlanner


@dataclass(frozen=True)
class PlannerConfig:
    """Which sampling planner, and its budget."""

    name: Literal["cem", "mppi", "icem"] = "cem"
    """Optimizer over action sequences."""
    horizon: int = 12
    """Planning horizon in agent steps."""
    population: int = 500
    """Action sequences scored per iteration (iCEM: at the first iteration)."""
    elites: int = 50
    """CEM / iCEM elites."""
    iterations: int = 5
    """Refinement iterations per action."""
    temperature: float = 10.0
    """MPPI temperature (in units of return: cartpole-swingup's 12-step returns span 0 to about 96)."""
    noise_std: float = 0.5
    """MPPI perturbation std (fraction of the half range)."""
    beta: float = 2.0
    """iCEM colored-noise exponent."""

    @classmethod
    def closed_loop(cls, name: Literal["cem", "mppi", "icem"]) -> PlannerConfig:
        """``name`` at the budget of ``lawm demo`` and ``lawm mbrl``, which plan at every real step: population 150,
        15 elites, 4 iterations (the class defaults are the benchmark's larger budget)."""
        return cls(name, population=150, elites=15, iterations=4)

    def own_options(self) -> dict[str, float]:
        """The keyword options only the chosen planner takes (elites; temperature and noise_std; elites and beta)."""
        options = {"cem": {"elites": self.elites}, "mppi": {"temperature": self.temperature, "noise_std": self.noise_std},
                   "icem": {"elites": self.elites, "beta": self.beta}}
        if self.name not in options:
            raise ValueError(f"planner must be 'cem', 'mppi' or 'icem', got {self.name!r}")
        return options[self.name]

    def describe(self) -> str:
        """The optimizer and the settings it uses, e.g.
        'mppi (population 150, horizon 12, 4 iterations, temperature 10, noise std 0.5)'."""
        own = [f"{value} elites" if key == "elites" else f"{key.replace('_', ' ')} {value:g}"
               for key, value in self.own_options().items()]
        iterations = f"{self.iterations} iteration" + "s" * (self.iterations != 1)
        settings = [f"population {self.population}", f"horizon {self.horizon}", iterations, *own]
        return f"{self.name} ({', '.join(settings)})"

    def build(self, action_dim: int, seed: int = 0, device: str | torch.device = "cpu") -> SamplingPlanner:
        """The planner over [-1, 1]^action_dim."""
        own = self.own_options()  # checks the name first
        return PLANNERS[self.name](self.horizon, action_dim, population=self.population, iterations=self.iterations,
                                   seed=seed, device=device, **own)
