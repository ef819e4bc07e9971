"""Analytic mechanical systems used as oracles by the mechanics tests."""

from __future__ import annotations

import torch
from torch import Tensor

from lawm_env.mechanics import MidpointLagrangian, SeparableLagrangian


def harmonic_potential(stiffness: float = 4.0):
    return lambda q: 0.5 * stiffness * (q * q).sum(-1)


def pendulum_potential(g_over_l: float = 1.0):
    return lambda q: -g_over_l * torch.cos(q[..., 0])


def separable(dim: int, dt: float, potential, mass: Tensor | None = None) -> SeparableLagrangian:
    mass = torch.eye(dim, dtype=torch.float64) if mass is None else mass
    return SeparableLagrangian(dim, dt, potential=potential, mass=mass).double()


def central_force_midpoint(dt: float) -> MidpointLagrangian:
    """A 2-D rotation-invariant midpoint Lagrangian: M(q) = (1 + ½|q|²)·I, V(q) = -1/sqrt(|q|² + 0.1)."""

    def mass(q: Tensor) -> Tensor:
        scale = 1.0 + 0.5 * (q * q).sum(-1)
        return scale[:, None, None] * torch.eye(2, dtype=q.dtype, device=q.device)

    return MidpointLagrangian(mass, lambda q: -1.0 / torch.sqrt((q * q).sum(-1) + 0.1), dt)


def central_force_callable(dt: float):
    """The same Lagrangian as ``central_force_midpoint`` written as a plain function L_d(q0, q1)."""

    def lagrangian(q0: Tensor, q1: Tensor) -> Tensor:
        qbar, vbar = 0.5 * (q0 + q1), (q1 - q0) / dt
        r2 = (qbar * qbar).sum(-1)
        return dt * (0.5 * (1.0 + 0.5 * r2) * (vbar * vbar).sum(-1) + 1.0 / torch.sqrt(r2 + 0.1))

    return lagrangian


def angular_momentum(q: Tensor, p: Tensor) -> Tensor:
    return q[..., 0] * p[..., 1] - q[..., 1] * p[..., 0]
