"""How random data episodes draw their actions: uniform or colored (1/f^β) noise, optionally coasting.

Uniform draws, independent at every step, average out: on cartpole-swingup they rarely pump the pole over
the top. Colored noise with β ≈ 1 (pink) holds its sign for several steps at a time, and so swings the pole
higher and faster, which is where planning through a world model needs data. Coasting (zero actions after a
random prefix) shows the rest and the unforced motion. ``examples/exploration_coverage.py`` measures what each
choice visits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lawm_env.noise import check_beta, colored_sequence

__all__ = ["RandomActions", "check_beta", "check_coast", "random_steps"]


def check_coast(coast: float, name: str = "the coasting probability") -> float:
    """``coast`` if it is a probability; otherwise a ValueError naming it ``name``."""
    if not 0.0 <= coast <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {coast}")
    return coast


def random_steps(rng: np.random.Generator, steps: int, coast: float) -> int:
    """How many of an episode's ``steps`` take random actions before it coasts (zero actions).

    With probability ``coast`` the episode coasts after a uniform draw from 0 to ``steps // 2`` random steps
    (0: it stays at its initial state, at rest in the swing-up tasks); otherwise every step is random. With
    ``coast=0`` nothing is drawn.
    """
    if check_coast(coast) == 0.0 or rng.random() >= coast:
        return steps
    return int(rng.integers(0, steps // 2 + 1))


@dataclass(frozen=True)
class RandomActions:
    """The random policy of data episodes; part of a collection's identity (``describe``)."""

    coast: float = 0.0
    """Probability that an episode coasts: zero actions after a random number (0 to steps / 2) of random steps."""
    beta: float = 0.0
    """0: independent uniform draws in [-1, 1] at every step. β > 0: unit-variance Gaussian noise whose power
    spectrum over the episode falls as 1/f^β (1: pink, 2: red), clipped to [-1, 1]."""

    def __post_init__(self) -> None:
        check_coast(self.coast)
        check_beta(self.beta)

    def sample(self, rng: np.random.Generator, steps: int, dim: int) -> np.ndarray:
        """An episode's actions (steps, dim), float32 in [-1, 1], drawn from ``rng``. With β = 0 and no coasting
        they are exactly ``rng.uniform(-1, 1, size=(steps, dim))``, so plain collections reproduce."""
        active = random_steps(rng, steps, self.coast)
        if self.beta == 0.0:
            actions = rng.uniform(-1.0, 1.0, size=(steps, dim))
        else:
            actions = colored_sequence(rng, steps, dim, self.beta).clip(-1.0, 1.0)
        actions[active:] = 0.0
        return actions.astype(np.float32)

    def describe(self) -> str:
        """'uniform random', 'colored noise (beta 1)', ... with the coasting probability when there is one."""
        text = "uniform random" if self.beta == 0.0 else f"colored noise (beta {self.beta:g})"
        return text + (f", coasting with probability {self.coast:g}" if self.coast else "")
