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
