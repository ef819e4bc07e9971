"""Open-loop positions of a latent transition whose every solve must converge, for tests of transitions."""

from __future__ import annotations

import torch


def converged_positions(transition, q_prev: torch.Tensor, q: torch.Tensor, u_prev: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """q_{k+1} … q_{k+H} (batch, H, d) from the pair (q_prev, q) under actions (batch, H, m); asserts that every
    step converged. ``transition`` is anything with ``start`` and ``step`` (a transition or a world model)."""
    state = transition.start(q_prev, q, u_prev)
    positions = []
    for u in actions.unbind(1):
        state, info = transition.step(state, u)
        assert bool(info.converged.all())
        positions.append(state.q)
    return torch.stack(positions, 1)
