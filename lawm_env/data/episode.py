"""The episode record shared by every data source, and per-episode seeding."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def episode_seed(seed: int, index: int) -> int:
    """Seed of episode ``index`` of a collection seeded with ``seed`` (independent of order and workers)."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and episode index must be non-negative, got seed={seed}, index={index}")
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint32)[0])


@dataclass
class Episode:
    """One episode of T steps.

    ``obs`` (T+1, H, W, 3) uint8 holds the frame before the first action and after each action;
    ``actions`` (T, m) float32 in [-1, 1]; ``rewards`` (T,) float32; ``states`` (T+1, n) float32 ground-truth or
    proprioceptive state beside each frame; ``energies`` (T+1,) float64 where known; ``extras`` other arrays
    (per-frame ones have T+1 rows, e.g. object masks and momentum).
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: bool
    truncated: bool
    states: np.ndarray | None = None
    energies: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = len(self.actions)
        _check(self.obs, "obs", np.uint8, (t + 1,), ndim=4)
        if self.obs.shape[-1] != 3:
            raise ValueError(f"obs must be RGB (T+1, H, W, 3), got shape {self.obs.shape}")
        _check(self.actions, "actions", np.float32, (t,), ndim=2)
        _check(self.rewards, "rewards", np.float32, (t,), ndim=1)
        if self.states is not None:
            _check(self.states, "states", np.float32, (t + 1,), ndim=2)
        if self.energies is not None:
            _check(self.energies, "energies", np.float64, (t + 1,), ndim=1)
        self.terminated, self.truncated = bool(self.terminated), bool(self.truncated)

    @property
    def steps(self) -> int:
        """Number of actions (frames minus one)."""
        return len(self.actions)


def _check(array: np.ndarray, name: str, dtype: type, lead: tuple[int, ...], ndim: int) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != dtype or array.ndim != ndim or array.shape[: len(lead)] != lead:
        got = f"{array.dtype} {array.shape}" if isinstance(array, np.ndarray) else type(array).__name__
        raise ValueError(f"episode field {name!r} must be {np.dtype(dtype)} with {ndim} dims and leading shape {lead}, got {got}")
