"""Colored (1/f^β) Gaussian noise over time: the iCEM planner's samples, the exploration of random data episodes,
and the exploration noise an MPC agent adds to its actions (``ActionNoise``)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def check_beta(beta: float, name: str = "the noise exponent beta") -> float:
    """``beta`` if it is a finite exponent in [0, 4]; otherwise a ValueError naming it ``name``."""
    if not (math.isfinite(beta) and 0.0 <= beta <= 4.0):
        raise ValueError(f"{name} must be in [0, 4] (0: white or uniform draws, 1: pink noise, 2: red), got {beta}")
    return beta


def colored_noise(population: int, horizon: int, action_dim: int, beta: float, generator: torch.Generator,
                  device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Tensor:
    """Unit-variance noise (population, horizon, action_dim) whose power spectrum over time falls as 1/f^β.

    β = 0 is white noise; β = 2 is a random walk in spirit (smooth, low-frequency action sequences).
    Every entry has unit variance (computed from the spectrum), so the planner's std keeps its meaning.
    """
    if horizon == 1 or beta == 0:
        return torch.randn((population, horizon, action_dim), generator=generator, device=device, dtype=dtype)
    freqs = torch.fft.rfftfreq(horizon, device=device, dtype=torch.float64)
    freqs[0] = 1.0 / horizon  # a bounded DC component: constant offsets are explored too
    scale = freqs.pow(-beta / 2)
    # variance of each irfft output entry: (s_0² + 4 Σ_interior s_k² + [s_Nyquist² if horizon is even]) / horizon²
    weights = torch.full_like(scale, 4.0)
    weights[0] = 1.0
    if horizon % 2 == 0:
        weights[-1] = 1.0
    std = (weights * scale.square()).sum().sqrt() / horizon
    shape = (population, action_dim, freqs.numel())
    real = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    imag = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    spectrum = torch.complex(real, imag) * (scale / std).to(dtype)
    return torch.fft.irfft(spectrum, n=horizon).transpose(1, 2).contiguous()


def colored_sequence(rng: np.random.Generator, steps: int, dim: int, beta: float) -> np.ndarray:
    """One unit-variance colored sequence (steps, dim), float64, seeded by a draw from the numpy ``rng``: how
    random data episodes and ``ActionNoise`` draw colored noise from their per-episode generators."""
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    return colored_noise(1, steps, dim, beta, generator, dtype=torch.float64)[0].numpy()


class ActionNoise:
    """Gaussian exploration noise of std ``std`` added to an agent's actions one step at a time: independent draws
    at β = 0, or colored over time for β > 0 (drawn ``block`` steps at a time, so consecutive actions are pushed
    the same way for several steps, as pink noise does in random data episodes).

    ``reset(seed)`` starts an episode's noise; at β = 0 the draws are exactly ``rng.normal(0, std, dim)`` of
    ``np.random.default_rng(seed)``.
    """

    def __init__(self, std: float, beta: float = 0.0, seed: int = 0, block: int = 256) -> None:
        if not (math.isfinite(std) and std >= 0.0) or block < 2:
            raise ValueError(f"need a finite std >= 0 and a block of at least 2 steps, got {std} and {block}")
        self.std, self.beta, self.block = std, check_beta(beta, "the exploration noise exponent"), block
        self.reset(seed)

    def reset(self, seed: int) -> None:
        """Start a new episode's noise, seeded."""
        self.rng = np.random.default_rng(seed)
        self._drawn = np.zeros((0, 0))
        self._next = 0

    def sample(self, dim: int) -> np.ndarray:
        """The next step's noise, float64 of shape (dim,)."""
        if self.beta == 0.0:
            return self.rng.normal(0.0, self.std, dim)
        if self._next == len(self._drawn) or self._drawn.shape[1] != dim:
            self._drawn, self._next = colored_sequence(self.rng, self.block, dim, self.beta), 0
        self._next += 1
        return self.std * self._drawn[self._next - 1]
