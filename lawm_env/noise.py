"""Colored (1/f^β) Gaussian noise over time: the iCEM planner's samples and the exploration of random data episodes."""

from __future__ import annotations

import torch
from torch import Tensor


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
