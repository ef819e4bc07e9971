"""Convolutional encoder (frame → generalized coordinates q) and decoder (q → frame)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from lawm_env.mechanics.angles import angle_features, check_angles, coordinates_from_features


def _levels(image_size: int) -> int:
    levels = int(round(math.log2(image_size / 4)))
    if image_size < 8 or 4 * 2**levels != image_size:
        raise ValueError(f"image_size must be 4·2^k with k >= 1 (8, 16, 32, 64, 128, ...), got {image_size}")
    return levels


def frames_to_float(frames: Tensor) -> Tensor:
    """uint8 frames (..., H, W, 3) to float (..., 3, H, W) in [0, 1]; float frames are taken as [0, 1] already."""
    if frames.shape[-1] != 3:
        raise ValueError(f"frames must be channels-last RGB (..., H, W, 3), got shape {tuple(frames.shape)}")
    x = frames.float() / 255.0 if frames.dtype == torch.uint8 else frames.float()
    return x.movedim(-1, -3)


class ConvEncoder(nn.Module):
    """Frames (batch, H, W, 3) → q (batch, latent_dim): stride-2 convolutions down to 4×4, then a linear map.
    With ``angles`` = k the map gives k more outputs and each of the first k coordinates is the angle
    atan2(s, c) of an output pair (c, s), in [-π, π]."""

    def __init__(self, latent_dim: int, image_size: int = 64, channels: int = 16, angles: int = 0) -> None:
        super().__init__()
        self.image_size, self.angles = image_size, check_angles(angles, latent_dim)
        layers: list[nn.Module] = []
        width = 3
        for i in range(_levels(image_size)):
            out = channels * 2**i
            layers += [nn.Conv2d(width, out, 4, stride=2, padding=1), nn.SiLU()]
            width = out
        self.convs = nn.Sequential(*layers)
        self.head = nn.Linear(width * 16, latent_dim + angles)

    def forward(self, frames: Tensor) -> Tensor:
        x = frames_to_float(frames)
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"expected {self.image_size}x{self.image_size} frames, got {tuple(x.shape[-2:])}")
        lead = x.shape[:-3]
        features = self.convs(x.reshape(-1, *x.shape[-3:]) - 0.5)
        return coordinates_from_features(self.head(features.flatten(1)), self.angles).reshape(*lead, -1)


class ConvDecoder(nn.Module):
    """q (batch, latent_dim) → frames (batch, H, W, 3) in [0, 1]. It sees q only, so positions must live in q.
    With ``angles`` = k it reads (cos θ, sin θ, x) of the first k (angular) coordinates."""

    def __init__(self, latent_dim: int, image_size: int = 64, channels: int = 16, angles: int = 0) -> None:
        super().__init__()
        levels = _levels(image_size)
        self.angles = check_angles(angles, latent_dim)
        self.width = channels * 2 ** (levels - 1)
        self.head = nn.Linear(latent_dim + angles, self.width * 16)
        layers: list[nn.Module] = []
        width = self.width
        for i in reversed(range(levels)):
            out = 3 if i == 0 else channels * 2 ** (i - 1)
            layers.append(nn.ConvTranspose2d(width, out, 4, stride=2, padding=1))
            if i:
                layers.append(nn.SiLU())
            width = out
        self.deconvs = nn.Sequential(*layers)

    def forward(self, q: Tensor) -> Tensor:
        lead = q.shape[:-1]
        features = angle_features(q, self.angles)
        x = self.head(features.reshape(-1, features.shape[-1])).view(-1, self.width, 4, 4)
        frames = torch.sigmoid(self.deconvs(nn.functional.silu(x)))
        return frames.movedim(-3, -1).reshape(*lead, *frames.shape[-2:], 3)


def to_uint8(frames: Tensor) -> Tensor:
    """Float frames in [0, 1] to uint8."""
    return (frames.clamp(0, 1) * 255).round().to(torch.uint8)
