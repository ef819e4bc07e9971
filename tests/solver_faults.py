"""A forced DEL-solve failure for tests of what happens after one."""

from __future__ import annotations

import torch


def fail_second_solve(monkeypatch, model, converged: list[bool]) -> None:
    """Make the model's transition step report ``converged`` (one flag per batch row) on its second call from now
    (every path steps through it: ``model.step``, ``model.rollout``)."""
    original, calls = model.transition.step, []

    def step(state, u, active=None):
        state, info = original(state, u, active)
        calls.append(1)
        if len(calls) == 2:
            info = info._replace(converged=torch.tensor(converged))
        return state, info

    monkeypatch.setattr(model.transition, "step", step)
