"""Image metrics as pure functions of float frames in [0, 1] with layout (..., H, W, 3)."""

from __future__ import annotations

import torch
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


def ssim(predicted: Tensor, target: Tensor, window: int = 11, sigma: float = 1.5) -> Tensor:
    """Structural similarity per frame (leading dimensions kept) of float frames (..., H, W, 3) in [0, 1], by
    torchmetrics: local statistics under a Gaussian window (``window`` pixels, at most the frame's size, standard
    deviation ``sigma``), SSIM = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)) with C1 = 0.01²,
    C2 = 0.03², averaged over positions and channels."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    if predicted.shape != target.shape:
        raise ValueError(f"predicted {tuple(predicted.shape)} and target {tuple(target.shape)} differ in shape")
    lead, (h, w, c) = predicted.shape[:-3], predicted.shape[-3:]
    window = min(window, h, w)
    window -= 1 - window % 2  # odd
    # float32: the local variances are differences of moments, rounded to about 1e-4 of SSIM at worst (7.5e-5 on
    # constant images; 2.6e-6 on 64-px frames), while float64 convolutions on a CPU take 47 times as long
    x = predicted.float().reshape(-1, h, w, c).movedim(-1, 1)
    y = target.float().reshape(-1, h, w, c).movedim(-1, 1)
    value = structural_similarity_index_measure(x, y, gaussian_kernel=True, sigma=sigma, kernel_size=window,
                                                reduction="none", data_range=1.0)
    return value.reshape(lead)
