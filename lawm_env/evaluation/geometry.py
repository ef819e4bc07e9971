"""Object positions from frames: mask centroids, colour-separated bodies, and an affine calibration to world
coordinates fitted on ground-truth frames. Pure functions of tensors."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def mask_centroid(masks: Tensor) -> Tensor:
    """Centroid (..., 2) as (column, row) in pixels, pixel centres at +0.5, of masks (..., H, W) (bool or
    non-negative weights); NaN where a mask is empty."""
    h, w = masks.shape[-2:]
    weights = masks.to(torch.float32)
    cols = torch.arange(w, dtype=weights.dtype, device=weights.device) + 0.5
    rows = torch.arange(h, dtype=weights.dtype, device=weights.device) + 0.5
    total = weights.sum(dim=(-2, -1))
    cx = (weights.sum(-2) * cols).sum(-1) / total
    cy = (weights.sum(-1) * rows).sum(-1) / total
    return torch.stack([cx, cy], -1)


def body_masks(frames: Tensor, masks: Tensor, colors: Sequence[Sequence[float]]) -> Tensor:
    """Split object masks (..., H, W) into one mask per body (..., B, H, W) by the body's colour: each masked
    pixel of frames (..., H, W, 3) goes to the nearest of ``colors`` (B RGB triples in [0, 1])."""
    palette = torch.as_tensor(colors, dtype=frames.dtype, device=frames.device)  # (B, 3)
    distance = (frames.unsqueeze(-2) - palette).square().sum(-1)  # (..., H, W, B)
    nearest = distance.argmin(-1)
    index = torch.arange(len(palette), device=frames.device).view(-1, 1, 1)
    return (nearest.unsqueeze(-3) == index) & masks.bool().unsqueeze(-3)


def body_centroids(frames: Tensor, weights: Tensor, colors: Sequence[Sequence[float]] | None = None,
                   others: Sequence[Sequence[float]] = ()) -> Tensor:
    """Pixel positions (..., 2·B) of B bodies: the weighted centroid of the whole object (B = 1, ``colors`` None)
    or of each colour's share of it, a pixel nearest to one of the ``others`` colours counting for no body.
    ``weights`` (..., H, W) are non-negative per-pixel object weights (a mask, or ``object_weights`` for sub-pixel
    positions)."""
    if colors is None:
        return mask_centroid(weights)
    shares = body_masks(frames, weights > 0, [*colors, *others])[..., : len(colors), :, :]
    return mask_centroid(shares.to(torch.float32) * weights.to(torch.float32).unsqueeze(-3)).flatten(-2)


def fit_affine(points: Tensor, targets: Tensor, ridge: float = 1e-6) -> Tensor:
    """Least-squares affine map (..., k+1, n) from points (..., T, k) to targets (..., T, n), fitted on the
    finite rows of each sequence; apply it with ``apply_affine``."""
    finite = (points.isfinite().all(-1) & targets.isfinite().all(-1)).unsqueeze(-1).to(points.dtype)
    x = torch.cat([torch.nan_to_num(points), torch.ones_like(points[..., :1])], -1) * finite
    y = torch.nan_to_num(targets) * finite
    gram = x.transpose(-1, -2) @ x + ridge * torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
    return torch.linalg.solve(gram, x.transpose(-1, -2) @ y)


def apply_affine(points: Tensor, transform: Tensor) -> Tensor:
    """Points (..., T, k) mapped by an affine transform (..., k+1, n) from ``fit_affine``."""
    return points @ transform[..., :-1, :] + transform[..., -1:, :]


def position_error(predicted: Tensor, target: Tensor) -> Tensor:
    """Euclidean error per frame (...,) between positions (..., 2·B), averaged over the B bodies."""
    diff = (predicted - target).unflatten(-1, (-1, 2))
    return diff.norm(dim=-1).mean(-1)
