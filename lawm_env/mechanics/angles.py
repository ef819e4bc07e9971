"""Generalized coordinates with angles: q = (θ_1 … θ_k, x_1 … x_{d-k}) on the cylinder (S¹)^k × R^{d-k}.

A joint angle (a pole, a link) lives on a circle. Learned in flat coordinates it becomes a closed loop that
the latent motion must follow, held there by a learned potential: a spinning joint then needs a centripetal
force that grows with the square of its speed. Kept as an angle, a spinning joint is uniform motion in θ.

Conventions, for ``angles`` = k (k = 0 makes every function the identity or the plain formula):
- the first k coordinates are angles; rollouts keep them continuous (unwrapped), so differences along a
  trajectory are velocities;
- networks read the features φ(q) = (cos θ, sin θ, x), of size d + k, which are 2π-periodic in each θ;
- a pair from two frames is made continuous by :func:`unwrap_near` (each angle moved by a multiple of 2π to
  within π of its partner), which assumes a joint turns less than π per step.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def check_angles(angles: int, dim: int) -> int:
    """``angles`` validated as a count of angular coordinates among ``dim``."""
    if not isinstance(angles, int) or isinstance(angles, bool) or not 0 <= angles <= dim:
        raise ValueError(f"angles must be an integer in [0, {dim}] (the number of angular coordinates), got {angles!r}")
    return angles


def wrap_angle(theta: Tensor) -> Tensor:
    """θ mapped to [-π, π)."""
    return torch.remainder(theta + math.pi, 2 * math.pi) - math.pi


def angle_features(q: Tensor, angles: int) -> Tensor:
    """φ(q) = (cos θ, sin θ, x): (..., d) → (..., d + k)."""
    if angles == 0:
        return q
    theta = q[..., :angles]
    return torch.cat([theta.cos(), theta.sin(), q[..., angles:]], -1)


def angle_features_vjp(q: Tensor, grad_features: Tensor, angles: int) -> Tensor:
    """The gradient with respect to q of a function of φ(q), from its gradient with respect to φ (chain rule)."""
    if angles == 0:
        return grad_features
    theta = q[..., :angles]
    g_cos, g_sin = grad_features[..., :angles], grad_features[..., angles : 2 * angles]
    return torch.cat([g_sin * theta.cos() - g_cos * theta.sin(), grad_features[..., 2 * angles :]], -1)


def coordinates_from_features(z: Tensor, angles: int) -> Tensor:
    """Inverse of :func:`angle_features` for any (..., d + k) vector: θ = atan2(s, c) in [-π, π]."""
    if angles == 0:
        return z
    return torch.cat([torch.atan2(z[..., angles : 2 * angles], z[..., :angles]), z[..., 2 * angles :]], -1)


def unwrap_near(q: Tensor, reference: Tensor, angles: int) -> Tensor:
    """``q`` with each angle moved by a multiple of 2π to within π of the same angle in ``reference``."""
    if angles == 0:
        return q
    theta, ref = q[..., :angles], reference[..., :angles]
    return torch.cat([ref + wrap_angle(theta - ref), q[..., angles:]], -1)


def pair_features(q_prev: Tensor, q: Tensor, angles: int, dt: float = 1.0) -> Tensor:
    """(φ(q_k), (q_k - q_{k-1})/dt) of a pair: the position as features and the velocity, each angle's change
    taken in [-π, π); shape (..., 2d + k)."""
    return torch.cat([angle_features(q, angles), (q - unwrap_near(q_prev, q, angles)) / dt], -1)


def squared_distance(a: Tensor, b: Tensor, angles: int) -> Tensor:
    """Σ (x_a - x_b)² + Σ 2(1 - cos(θ_a - θ_b)) over the last axis: smooth, 2π-periodic in each angle, and equal
    to the squared Euclidean distance to second order."""
    diff = a - b
    if angles == 0:
        return diff.square().sum(-1)
    return 2.0 * (1.0 - diff[..., :angles].cos()).sum(-1) + diff[..., angles:].square().sum(-1)


def circular_spread(theta: Tensor) -> Tensor:
    """1 − |mean of e^{iθ}| over the leading axes of angles (..., k), one value per angle, in [0, 1]: 0 when an
    angle is the same in every sample (an encoder that leaves it unused), near 1 when it covers the circle."""
    flat = theta.reshape(-1, theta.shape[-1])
    return 1.0 - torch.stack([flat.cos().mean(0), flat.sin().mean(0)]).norm(dim=0)
