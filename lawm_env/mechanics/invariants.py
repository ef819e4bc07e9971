"""Discrete momentum and energy: the quantities a variational integrator preserves."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from lawm_env.mechanics.forcing import ForceFn, Forcing, as_forcing
from lawm_env.mechanics.lagrangians import DiscreteLagrangian, as_lagrangian


def _flat(x: Tensor) -> Tensor:
    """(..., n) as (N, n); flatten rather than reshape(-1, n), which is ambiguous when n = 0 (no actions)."""
    return x.unsqueeze(0) if x.dim() == 1 else x.flatten(0, -2)


def discrete_momentum(
    lagrangian: DiscreteLagrangian | Callable[[Tensor, Tensor], Tensor],
    q0: Tensor,
    q1: Tensor,
    force: Forcing | ForceFn | None = None,
    u: Tensor | None = None,
) -> Tensor:
    """Momentum at q1 of the step q0 → q1: p = D2 L_d(q0, q1) + F_d⁺(q0, q1, u).

    Any leading shape (batch, time, …) is accepted; on a DEL trajectory it equals -D1 L_d(q1, q2) - F_d⁻.
    """
    lag, frc = as_lagrangian(lagrangian), as_forcing(force)
    lead = q0.shape[:-1]
    part = lag.partials(_flat(q0), _flat(q1))
    p = part.d2
    if frc is not None:
        p = p + frc(_flat(q0), _flat(q1), None if u is None else _flat(u)).plus
    return p.reshape(*lead, -1)


def energy(lagrangian: DiscreteLagrangian, q: Tensor, p: Tensor) -> Tensor:
    """E = ½ pᵀ M(q)⁻¹ p + V(q), for Lagrangians that expose ``mass(q)`` and ``potential(q)``."""
    if not (hasattr(lagrangian, "mass") and hasattr(lagrangian, "potential")):
        raise TypeError(
            f"{type(lagrangian).__name__} does not expose mass(q) and potential(q); energy needs a "
            "SeparableLagrangian, MidpointLagrangian or MechanicalLagrangian"
        )
    lead = q.shape[:-1]
    qf, pf = _flat(q), _flat(p)
    mass, potential = lagrangian.mass_and_potential(qf)
    velocity = torch.linalg.solve(mass.expand(qf.shape[0], *mass.shape[-2:]), pf.unsqueeze(-1)).squeeze(-1)
    return (0.5 * (pf * velocity).sum(-1) + potential).reshape(lead)
