"""Static background, object masks and background consistency, for float frames (..., T, H, W, 3) in [0, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def estimate_background(frames: Tensor, masks: Tensor | None = None) -> Tensor:
    """The static background (..., H, W, 3) of a sequence (..., T, H, W, 3): with object masks (..., T, H, W),
    the mean of each pixel over the frames where no object covers it; without, the per-pixel median over
    time (an object that covers a pixel in fewer than half the frames does not show)."""
    if masks is None:
        return frames.median(dim=-4).values
    free = (~masks.bool()).unsqueeze(-1).to(frames.dtype)
    count = free.sum(-4)
    mean = (frames * free).sum(-4) / count.clamp(min=1.0)
    return torch.where(count > 0, mean, frames.median(dim=-4).values)


def object_mask(frames: Tensor, background: Tensor, threshold: float = 0.1) -> Tensor:
    """Pixels (..., T, H, W) whose largest channel difference from the background (..., H, W, 3) exceeds
    ``threshold``."""
    return (frames - background.unsqueeze(-4)).abs().amax(-1) > threshold


def object_weights(frames: Tensor, background: Tensor, masks: Tensor) -> Tensor:
    """Per-pixel object weights (..., T, H, W) for sub-pixel centroids: the largest channel difference from the
    background (..., H, W, 3) over the object masks (..., T, H, W) grown by one pixel, 0 elsewhere. An edge pixel
    the object half covers weighs about half, so the centroid follows the anti-aliased coverage, not the pixel
    grid."""
    difference = (frames - background.unsqueeze(-4)).abs().amax(-1)
    return torch.where(dilate(masks), difference, torch.zeros_like(difference))


def dilate(masks: Tensor, pixels: int = 1) -> Tensor:
    """Masks (..., H, W) grown by ``pixels`` in every direction (square neighbourhood)."""
    if pixels <= 0:
        return masks.bool()
    lead, (h, w) = masks.shape[:-2], masks.shape[-2:]
    grown = F.max_pool2d(masks.reshape(-1, 1, h, w).float(), 2 * pixels + 1, stride=1, padding=pixels)
    return grown.reshape(*lead, h, w) > 0


def _background_change(frames: Tensor, masks: Tensor, reference: Tensor, ref_masks: Tensor) -> Tensor:
    """Mean absolute difference per frame over the pixels that neither mask covers."""
    keep = (~(masks | ref_masks)).unsqueeze(-1).to(frames.dtype)
    diff = (frames - reference).abs() * keep
    return diff.sum(dim=(-3, -2, -1)) / (3.0 * keep.sum(dim=(-3, -2, -1))).clamp(min=1.0)


def background_consistency(frames: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
    """Mean absolute change of the background pixels of frames (..., T, H, W, 3) against the first frame and
    against the previous frame, each (..., T) (zero at the first frame). A pixel counts as background when
    ``masks`` (..., T, H, W) is false at both the frame and its reference."""
    masks = masks.bool()
    first = _background_change(frames, masks, frames[..., :1, :, :, :], masks[..., :1, :, :])
    previous = _background_change(frames[..., 1:, :, :, :], masks[..., 1:, :, :], frames[..., :-1, :, :, :], masks[..., :-1, :, :])
    return first, torch.cat([torch.zeros_like(previous[..., :1]), previous], -1)
