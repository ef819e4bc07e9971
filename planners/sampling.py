"""Samplers of the planners: Gaussian perturbations clipped or truncated to a box, and colored (1/f^β) noise
(``lawm_env.noise.colored_noise``, shared with the exploration of random data episodes)."""

from __future__ import annotations

import torch
from torch import Tensor

from lawm_env.noise import colored_noise

__all__ = ["clipped_normal", "colored_noise", "truncated_normal"]


def truncated_normal(mean: Tensor, std: Tensor, low: Tensor, high: Tensor, population: int, generator: torch.Generator) -> Tensor:
    """``population`` samples of N(mean, std²) truncated to [low, high] by inverse-CDF sampling.

    mean and std are (horizon, action_dim); low and high broadcast to them. Returns (population, horizon, action_dim).
    """
    std = std.clamp(min=1e-6)
    a = torch.special.ndtr((low - mean) / std)
    b = torch.special.ndtr((high - mean) / std)
    u = torch.rand((population, *mean.shape), generator=generator, device=mean.device, dtype=mean.dtype)
    p = (a + u * (b - a)).clamp(1e-7, 1 - 1e-7)
    return torch.maximum(torch.minimum(mean + std * torch.special.ndtri(p), high), low)


def clipped_normal(mean: Tensor, std: Tensor, low: Tensor, high: Tensor, population: int, generator: torch.Generator) -> Tensor:
    """``population`` samples of N(mean, std²) clipped to [low, high]."""
    noise = torch.randn((population, *mean.shape), generator=generator, device=mean.device, dtype=mean.dtype)
    return torch.maximum(torch.minimum(mean + std * noise, high), low)
