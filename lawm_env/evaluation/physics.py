"""Invariant metrics as pure functions of per-frame quantities with time on the last axis: (..., T)."""

from __future__ import annotations

import torch
from torch import Tensor


def _scale(values: Tensor, scale: Tensor | float | None, eps: float) -> Tensor:
    """|E_0| (..., 1) of series (..., T), or the given ``scale`` (a number or (...,)) shaped alike."""
    if scale is None:
        return values[..., :1].abs().clamp(min=eps)
    return torch.as_tensor(scale, dtype=values.dtype, device=values.device).clamp(min=eps).expand(values.shape[:-1]).unsqueeze(-1)


def relative_drift(values: Tensor, scale: Tensor | float | None = None, eps: float = 1e-12) -> Tensor:
    """|E_k - E_0| / S at every frame k, same shape as ``values`` (..., T); S is ``scale`` (a number or (...,)),
    by default |E_0|."""
    return (values - values[..., :1]).abs() / _scale(values, scale, eps)


def drift_slope(values: Tensor, dt: float = 1.0, scale: Tensor | float | None = None, eps: float = 1e-12) -> Tensor:
    """Least-squares slope of (E_k - E_0)/S against time k·dt, per series (...,), S as in ``relative_drift``:
    the secular drift rate, zero for a conserved quantity and for one that oscillates symmetrically about its
    start."""
    rel = (values - values[..., :1]) / _scale(values, scale, eps)
    t = torch.arange(values.shape[-1], dtype=rel.dtype, device=rel.device) * dt
    t = t - t.mean()
    return ((rel - rel.mean(-1, keepdim=True)) * t).sum(-1) / t.square().sum().clamp(min=eps)


def invariance_score(values: Tensor, eps: float = 1e-12) -> Tensor:
    """Physical Invariance Score 1 / (1 + std/|mean|) over the frames (...,): 1 for a constant, toward 0 as the
    spread grows relative to the mean."""
    return 1.0 / (1.0 + values.std(-1, unbiased=False) / values.mean(-1).abs().clamp(min=eps))
