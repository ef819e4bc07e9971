"""A linear probe from latent coordinates to the true (or proprioceptive) state: ridge regression in closed form."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from lawm_env.mechanics.angles import pair_features


class LinearProbe(NamedTuple):
    """state ≈ features @ weight + bias, features standardized with (mean, scale)."""

    mean: Tensor
    scale: Tensor
    weight: Tensor
    bias: Tensor

    def __call__(self, features: Tensor) -> Tensor:
        return ((features - self.mean) / self.scale) @ self.weight + self.bias


def probe_features(q: Tensor, angles: int = 0) -> Tensor:
    """Probe features of a latent sequence (..., T, d): (φ(q_k), q_k - q_{k-1}) per frame (..., T-1, 2d + angles),
    φ giving angular coordinates as (cos θ, sin θ); the difference carries the velocity that a single q cannot."""
    return pair_features(q[..., :-1, :], q[..., 1:, :], angles)


def fit_probe(features: Tensor, targets: Tensor, ridge: float = 1e-3) -> LinearProbe:
    """Ridge regression (penalty ``ridge`` on standardized features) from features (N, f) to targets (N, n)."""
    x, y = features.double().reshape(-1, features.shape[-1]), targets.double().reshape(-1, targets.shape[-1])
    mean, scale = x.mean(0), x.std(0).clamp(min=1e-8)
    xs = (x - mean) / scale
    y_mean = y.mean(0)
    gram = xs.T @ xs + ridge * len(xs) * torch.eye(xs.shape[1], dtype=xs.dtype)
    weight = torch.linalg.solve(gram, xs.T @ (y - y_mean))
    return LinearProbe(mean.float(), scale.float(), weight.float(), y_mean.float())


def state_error(predicted: Tensor, target: Tensor, scale: Tensor) -> Tensor:
    """Root mean square over state components (...,) of the error (..., n), each component divided by its
    spread ``scale`` (n,) in the data (so angles, positions and velocities weigh alike)."""
    return ((predicted - target) / scale.clamp(min=1e-8)).square().mean(-1).sqrt()
