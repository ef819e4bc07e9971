"""How random data episodes draw their actions: uniform or colored (1/f^β) noise, optionally coasting, optionally
pulled back to the centre of a slider.

Uniform draws, independent at every step, average out: on cartpole-swingup they rarely pump the pole over
the top. Colored noise with β ≈ 1 (pink) holds its sign for several steps at a time, and so swings the pole
higher and faster, which is where planning through a world model needs data. Coasting (zero actions after a
random prefix) shows the rest and the unforced motion. Random pushes also drive a cart into the ends of its
rail, where a fixed camera loses it (cartpole's camera 0, past about 1.6 from the centre): a centring pull
−(k_x·x + k_v·ẋ) on the slider keeps it in view. ``examples/exploration_coverage.py`` measures what each
choice visits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from lawm_env.noise import check_beta, colored_sequence

__all__ = ["RandomActions", "check_beta", "check_center", "check_coast", "random_steps"]

ActionSource = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(frame, state) → action: how an episode's random actions are handed out, one step at a time."""


def check_coast(coast: float, name: str = "the coasting probability") -> float:
    """``coast`` if it is a probability; otherwise a ValueError naming it ``name``."""
    if not 0.0 <= coast <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {coast}")
    return coast


def check_center(center: tuple[float, float], name: str = "the centring gains") -> tuple[float, float]:
    """``center`` as a pair of floats if both gains are finite and >= 0; otherwise a ValueError naming it ``name``."""
    gains = tuple(float(g) for g in center)
    if len(gains) != 2 or not all(math.isfinite(g) and g >= 0.0 for g in gains):
        raise ValueError(f"{name} must be two finite gains >= 0 (position, velocity), got {center!r}")
    return gains  # type: ignore[return-value]


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
    center: tuple[float, float] = (0.0, 0.0)
    """Gains (k_x, k_v) of a pull −(k_x·x + k_v·ẋ) added to every drawn action, x and ẋ the position and velocity
    of the task's slider read from the simulator state (a cart on its rail; ``DmcTask.slider``), before the
    sum is clipped to [-1, 1]. It keeps the cart where the camera sees it. (0, 0): open-loop draws only."""

    def __post_init__(self) -> None:
        check_coast(self.coast)
        check_beta(self.beta)
        object.__setattr__(self, "center", check_center(self.center))

    @property
    def centers(self) -> bool:
        """Whether the actions are pulled to the slider's centre (a closed-loop policy)."""
        return self.center != (0.0, 0.0)

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

    def actions(self, rng: np.random.Generator, steps: int, dim: int, slider: tuple[int, int] | None = None) -> ActionSource:
        """An episode's actions one step at a time: the draws of :meth:`sample` from ``rng`` in turn, each with
        the centring pull on the state entries ``slider`` = (position index, velocity index) when ``center``
        is set (a ValueError if the task has no slider)."""
        drawn = iter(self.sample(rng, steps, dim))
        if not self.centers:
            return lambda frame, state: next(drawn)
        if slider is None:
            raise ValueError(f"{self.describe()}: the task has no slider to centre")
        (k_x, k_v), (i, j) = self.center, slider
        return lambda frame, state: np.clip(next(drawn) - (k_x * state[i] + k_v * state[j]), -1.0, 1.0)

    def describe(self) -> str:
        """'uniform random', 'colored noise (beta 1)', ... with the coasting probability and the centring gains
        when there are any."""
        text = "uniform random" if self.beta == 0.0 else f"colored noise (beta {self.beta:g})"
        text += f", coasting with probability {self.coast:g}" if self.coast else ""
        return text + (f", pulled to the centre by -({self.center[0]:g} x + {self.center[1]:g} v)" if self.centers else "")
