"""Image metrics as pure functions of float frames in [0, 1] with layout (..., H, W, 3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def psnr(predicted: Tensor, target: Tensor, eps: float = 1e-10) -> Tensor:
    """Peak signal-to-noise ratio in dB per frame (leading dimensions kept): 10·log10(1 / MSE)."""
    if predicted.shape != target.shape:
        raise ValueError(f"predicted {tuple(predicted.shape)} and target {tuple(target.shape)} differ in shape")
    mse = (predicted.float() - target.float()).square().mean(dim=(-3, -2, -1))
    return 10.0 * torch.log10(1.0 / (mse + eps))


def masked_psnr(predicted: Tensor, target: Tensor, mask: Tensor, eps: float = 1e-10) -> Tensor:
    """PSNR in dB per frame over the pixels where ``mask`` (..., H, W, 1) is 1, channels last; NaN for a frame
    whose mask is empty."""
    if predicted.shape != target.shape or mask.shape != target.shape[:-1] + (1,):
        raise ValueError(f"predicted {tuple(predicted.shape)}, target {tuple(target.shape)} and mask {tuple(mask.shape)} do not match")
    error = ((predicted.float() - target.float()).square() * mask).sum(dim=(-3, -2, -1))
    count = mask.float().sum(dim=(-3, -2, -1)) * target.shape[-1]
    mse = torch.where(count > 0, error / count.clamp(min=1), torch.full_like(error, float("nan")))
    return 10.0 * torch.log10(1.0 / (mse + eps))


def _gaussian_window(size: int, sigma: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2.0
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def ssim(predicted: Tensor, target: Tensor, window: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """Structural similarity per frame (leading dimensions kept) of float frames in [0, 1]: local statistics
    under a Gaussian window (``window`` pixels, standard deviation ``sigma``; valid positions only),
    SSIM = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)) averaged over positions and channels."""
    if predicted.shape != target.shape:
        raise ValueError(f"predicted {tuple(predicted.shape)} and target {tuple(target.shape)} differ in shape")
    lead, (h, w, c) = predicted.shape[:-3], predicted.shape[-3:]
    window = min(window, h, w)
    x = predicted.float().reshape(-1, h, w, c).movedim(-1, 1).reshape(-1, 1, h, w)
    y = target.float().reshape(-1, h, w, c).movedim(-1, 1).reshape(-1, 1, h, w)
    g = _gaussian_window(window, sigma, x.dtype, x.device)
    blur = lambda z: F.conv2d(F.conv2d(z, g.view(1, 1, 1, -1)), g.view(1, 1, -1, 1))  # noqa: E731  separable
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = k1**2, k2**2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.reshape(-1, c, *s.shape[-2:]).mean(dim=(1, 2, 3)).reshape(lead)
