"""Input validation with clear errors for the mechanics API."""

from __future__ import annotations

import torch
from torch import Tensor


def require_finite(name: str, x: Tensor) -> None:
    """Raise ValueError when ``x`` holds NaN or Inf."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or Inf values")


def check_configurations(*named: tuple[str, Tensor]) -> bool:
    """Check configuration tensors share one shape (batch, dim) or (dim,), dtype and device; return unbatched."""
    first_name, first = named[0]
    for name, q in named:
        if not isinstance(q, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(q).__name__}")
        if not q.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor, got dtype {q.dtype}")
        if q.dim() not in (1, 2):
            raise ValueError(f"{name} must have shape (batch, dim) or (dim,), got {tuple(q.shape)}")
        if q.shape != first.shape:
            raise ValueError(f"{name} has shape {tuple(q.shape)} but {first_name} has shape {tuple(first.shape)}")
        if q.dtype != first.dtype or q.device != first.device:
            raise ValueError(f"{name} is {q.dtype} on {q.device} but {first_name} is {first.dtype} on {first.device}")
        require_finite(name, q)
    return first.dim() == 1


def check_actions(name: str, u: Tensor | None, batch_shape: torch.Size, reference: Tensor) -> Tensor | None:
    """Check an action tensor has the configuration's batch shape plus one action axis; cast to its dtype."""
    if u is None:
        return None
    if not isinstance(u, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or None, got {type(u).__name__}")
    if u.dim() != len(batch_shape) + 1 or u.shape[:-1] != batch_shape:
        raise ValueError(f"{name} must have shape {tuple(batch_shape)} + (action_dim,), got {tuple(u.shape)}")
    if u.device != reference.device:
        raise ValueError(f"{name} is on {u.device} but the configurations are on {reference.device}")
    require_finite(name, u)
    return u.to(reference.dtype)


def default_tolerance(dtype: torch.dtype) -> float:
    """Residual tolerance reachable in ``dtype``: 1e-10 in float64, 1e-5 otherwise."""
    return 1e-10 if dtype == torch.float64 else 1e-5
