"""Planner options shared by ``lawm demo``, ``lawm mbrl`` and the planning benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from planners.base import SamplingPlanner
from planners.cem import CEM
from planners.icem import ICEM
from planners.mppi import MPPI


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

    def describe(self) -> str:
        """The optimizer and the settings it uses, e.g.
        'mppi (population 150, horizon 12, 4 iterations, temperature 10, noise std 0.5)'."""
        own = {"cem": [f"{self.elites} elites"], "mppi": [f"temperature {self.temperature:g}", f"noise std {self.noise_std:g}"],
               "icem": [f"{self.elites} elites", f"beta {self.beta:g}"]}.get(self.name, [])
        iterations = f"{self.iterations} iteration" + "s" * (self.iterations != 1)
        settings = [f"population {self.population}", f"horizon {self.horizon}", iterations, *own]
        return f"{self.name} ({', '.join(settings)})"

    def build(self, action_dim: int, seed: int = 0, device: str | torch.device = "cpu") -> SamplingPlanner:
        """The planner over [-1, 1]^action_dim."""
        common = dict(iterations=self.iterations, seed=seed, device=device)
        if self.name == "cem":
            return CEM(self.horizon, action_dim, population=self.population, elites=self.elites, **common)
        if self.name == "mppi":
            return MPPI(self.horizon, action_dim, population=self.population, temperature=self.temperature, noise_std=self.noise_std, **common)
        if self.name == "icem":
            return ICEM(self.horizon, action_dim, population=self.population, elites=self.elites, beta=self.beta, **common)
        raise ValueError(f"planner must be 'cem', 'mppi' or 'icem', got {self.name!r}")
