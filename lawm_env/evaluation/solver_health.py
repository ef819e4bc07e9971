"""Health of the DEL solves of an imagined rollout."""

from __future__ import annotations

from torch import Tensor

from lawm_env.model.world_model import Imagined


def solver_health(imagined: Imagined) -> dict[str, Tensor]:
    """Per-step (batch, H) DEL residual, Newton iterations and non-converged indicator (zeros for the
    baseline, which solves nothing)."""
    return {"del_residual": imagined.residual.float(), "newton_iterations": imagined.iterations.float(),
            "not_converged": (~imagined.converged).float()}
