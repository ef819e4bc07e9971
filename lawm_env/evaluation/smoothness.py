"""Motion smoothness of predicted videos: jerk of the object trajectory and how well odd frames are
reconstructed by motion-compensated interpolation of their even neighbours."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def jerk(positions: Tensor, dt: float = 1.0) -> Tensor:
    """Magnitude of the third finite difference (x_{k+1} - 3x_k + 3x_{k-1} - x_{k-2}) / dt³ of positions
    (..., T, n), per frame (..., T); the first two frames and the last have none (NaN)."""
    third = (positions[..., 3:, :] - 3 * positions[..., 2:-1, :] + 3 * positions[..., 1:-2, :] - positions[..., :-3, :]) / dt**3
    nan = positions.new_full((*positions.shape[:-2], 1), float("nan"))
    return torch.cat([nan, nan, third.norm(dim=-1), nan], -1)


def translate(images: Tensor, shift: Tensor) -> Tensor:
    """Images (N, C, H, W) moved by ``shift`` (N, 2) pixels (columns, rows) with bilinear sampling; what
    enters from outside is zero."""
    n, _, h, w = images.shape
    theta = torch.zeros(n, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = -2.0 * shift[:, 0] / w
    theta[:, 1, 2] = -2.0 * shift[:, 1] / h
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def interpolate_midframe(before: Tensor, after: Tensor, mask_before: Tensor, mask_after: Tensor, background: Tensor,
                         shift: Tensor) -> Tensor:
    """The frame halfway between ``before`` and ``after`` (N, H, W, 3): the object layers (inside the masks
    (N, H, W)) moved by +shift/2 and -shift/2 (N, 2 pixels, after minus before), averaged, and composited over
    the ``background`` (N, H, W, 3)."""
    def layer(frame: Tensor, mask: Tensor, move: Tensor) -> tuple[Tensor, Tensor]:
        m = mask.to(frame.dtype).unsqueeze(-1)
        moved = translate(torch.cat([frame * m, m], -1).movedim(-1, 1), move).movedim(1, -1)
        return moved[..., :3], moved[..., 3:]

    color_a, alpha_a = layer(before, mask_before, shift / 2)
    color_b, alpha_b = layer(after, mask_after, -shift / 2)
    alpha = (alpha_a + alpha_b) / 2
    color = (color_a + color_b) / 2
    return background * (1 - alpha) + color


def interpolation_error(frames: Tensor, masks: Tensor, centroids: Tensor, background: Tensor) -> Tensor:
    """Mean squared error per frame (..., T) of each odd frame k of frames (..., T, H, W, 3) against the
    motion-compensated interpolation of frames k-1 and k+1 (object masks (..., T, H, W), centroids (..., T, 2)
    pixels, static background (..., H, W, 3)); NaN at even frames, the last frame and where a centroid is
    missing."""
    t = frames.shape[-4]
    odd = torch.arange(1, t - 1, 2, device=frames.device)
    before, after = frames[..., odd - 1, :, :, :], frames[..., odd + 1, :, :, :]
    shift = centroids[..., odd + 1, :] - centroids[..., odd - 1, :]
    lead = before.shape[:-3]
    flat = lambda x: x.reshape(-1, *x.shape[len(lead):])  # noqa: E731
    bg = background.unsqueeze(-4).expand(*lead, *background.shape[-3:])
    middle = interpolate_midframe(flat(before), flat(after), flat(masks[..., odd - 1, :, :]), flat(masks[..., odd + 1, :, :]),
                                  flat(bg), flat(torch.nan_to_num(shift))).reshape(*lead, *frames.shape[-3:])
    error = (middle - frames[..., odd, :, :, :]).square().mean(dim=(-3, -2, -1))
    error = torch.where(shift.isfinite().all(-1), error, torch.full_like(error, float("nan")))
    out = frames.new_full((*frames.shape[:-4], t), float("nan"))
    out[..., odd] = error
    return out
