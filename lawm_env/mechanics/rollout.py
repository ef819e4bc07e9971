"""Integrate H forced DEL steps for a batch of initial pairs and action sequences."""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor

from lawm_env.mechanics.checks import check_actions, check_configurations
from lawm_env.mechanics.forcing import ForceFn, Forcing
from lawm_env.mechanics.lagrangians import DiscreteLagrangian
from lawm_env.mechanics.solver import DELStepper, JacobianMode, Method


class Rollout(NamedTuple):
    """A batch of DEL trajectories; time is the second dimension."""

    positions: Tensor
    """q_1 … q_H after the initial pair (q_{-1}, q_0) = (q_prev, q_curr): (batch, H, dim)."""
    iterations: Tensor
    """Newton iterations per step: (batch, H)."""
    residual: Tensor
    """Final ‖r‖₂ per step: (batch, H)."""
    converged: Tensor
    """Convergence flag per step: (batch, H)."""


def rollout(
    lagrangian: DiscreteLagrangian | Callable[[Tensor, Tensor], Tensor],
    q_prev: Tensor,
    q_curr: Tensor,
    actions: Tensor | None = None,
    force: Forcing | ForceFn | None = None,
    *,
    horizon: int | None = None,
    u_prev: Tensor | None = None,
    tol: float | None = None,
    max_iter: int = 20,
    jacobian: JacobianMode = "structured",
    method: Method = "auto",
    rescue: bool = True,
) -> Rollout:
    """Integrate ``horizon`` steps (default ``actions.shape[1]``) from the pairs (q_prev, q_curr).

    ``actions`` has shape (batch, H, action_dim) (or (H, action_dim) with unbatched configurations); step k
    applies ``actions[:, k]``. The implicit path carries the discrete momentum between steps, so each step
    costs only its Newton evaluations. Differentiable like ``solve_del``; ``rescue`` as there.
    """
    stepper = DELStepper(lagrangian, force, tol=tol, max_iter=max_iter, jacobian=jacobian, method=method, rescue=rescue)
    unbatched = check_configurations(("q_prev", q_prev), ("q_curr", q_curr))
    if unbatched:
        q_prev, q_curr = q_prev.unsqueeze(0), q_curr.unsqueeze(0)
        actions = None if actions is None else actions.unsqueeze(0)
        u_prev = None if u_prev is None else u_prev.unsqueeze(0)
    if actions is not None:
        if actions.dim() != 3 or actions.shape[0] != q_curr.shape[0]:
            raise ValueError(f"actions must have shape (batch, horizon, action_dim) with batch {q_curr.shape[0]}, got {tuple(actions.shape)}")
        if horizon is not None and horizon != actions.shape[1]:
            raise ValueError(f"horizon={horizon} disagrees with actions of length {actions.shape[1]}")
        horizon = actions.shape[1]
        flat = actions.reshape(-1, actions.shape[-1])
        actions = check_actions("actions", flat, flat.shape[:-1], q_curr).view(actions.shape)
    if horizon is None or horizon < 0:
        raise ValueError("give actions or a non-negative horizon")
    u_prev = check_actions("u_prev", u_prev, q_curr.shape[:-1], q_curr)
    state = stepper.start(q_prev, q_curr, u_prev)
    positions, infos = [], []
    for k in range(horizon):
        state, info = stepper.step(state, None if actions is None else actions[:, k])
        positions.append(state.q)
        infos.append(info)
    empty = q_curr.new_zeros(q_curr.shape[0], 0)
    out = Rollout(
        torch.stack(positions, 1) if positions else q_curr.new_zeros(q_curr.shape[0], 0, q_curr.shape[-1]),
        torch.stack([i.iterations for i in infos], 1) if infos else empty.long(),
        torch.stack([i.residual for i in infos], 1) if infos else empty,
        torch.stack([i.converged for i in infos], 1) if infos else empty.bool(),
    )
    return Rollout(*(t.squeeze(0) for t in out)) if unbatched else out
