"""Open-loop prediction quality: decode H imagined steps from the first two encoded frames of held-out
windows, driven by the true actions, and compare with the true frames; the same windows score trivial
predictors (repeating the last observed frame), which show what a PSNR figure is worth."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple

import torch
from torch import Tensor

from lawm_env.data.dataset import WindowDataset
from lawm_env.evaluation.metrics import masked_psnr, psnr
from lawm_env.model import WorldModel
from lawm_env.training.losses import frames_as_targets, moving_pixels

Predictor = Callable[[Tensor, Tensor, tuple[int, ...]], Tensor]
"""(obs (B, L+1, H, W, 3) uint8, actions (B, L, m), horizons) -> the predicted frames (B, len(horizons), H, W, 3)
in [0, 1] of obs[:, 1 + k] for each k in horizons, from obs[:, :2] and the actions only."""


class OpenLoopPSNR(NamedTuple):
    """Mean PSNR (dB) per horizon over whole frames, and over the pixels where the true frame differs from its
    window's temporal median (the moving parts: an image of the background alone scores low here)."""

    frame: dict[int, float]
    moving: dict[int, float]


def model_predictor(model: WorldModel) -> Predictor:
    """Encode the first two frames, roll the transition out under the true actions a_1 … a_H, decode."""

    def predict(obs: Tensor, actions: Tensor, horizons: tuple[int, ...]) -> Tensor:
        q = model.encode(obs[:, :2])
        _, imagined = model.rollout(model.start(q[:, 0], q[:, 1], actions[:, 0]), actions[:, 1 : 1 + max(horizons)])
        return model.decode(imagined.positions[:, [h - 1 for h in horizons]])

    return predict


def repeat_last_frame(obs: Tensor, actions: Tensor, horizons: tuple[int, ...]) -> Tensor:
    """The trivial predictor: nothing moves after the last observed frame."""
    return frames_as_targets(obs[:, 1:2]).expand(-1, len(horizons), -1, -1, -1)


@torch.no_grad()
def open_loop_quality(predictor: Predictor, data: str | Path, horizons: tuple[int, ...] = (1, 10, 50), windows: int = 32,
                      batch_size: int = 16, seed: int = 0, device: torch.device | str = "cpu") -> OpenLoopPSNR:
    """PSNR of ``predictor``'s frame k steps after the initial pair, for each k in ``horizons``, over ``windows``
    windows drawn (seeded, so every predictor sees the same ones) from the collection ``data``: over whole
    frames and over the moving pixels (frames with none are left out)."""
    longest = max(horizons)
    dataset = WindowDataset(data, window=longest + 1, with_states=False)
    index = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:windows]
    frame_scores: list[Tensor] = []
    moving_scores: list[Tensor] = []
    columns = [h + 1 for h in horizons]  # obs[:, 2] is one step after the initial pair
    for chunk in index.split(batch_size):
        items = [dataset[int(i)] for i in chunk]
        obs = torch.stack([it["obs"] for it in items]).to(device)
        actions = torch.stack([it["actions"] for it in items]).to(device)
        frames = frames_as_targets(obs)
        targets, masks = frames[:, columns], moving_pixels(frames)[:, columns]
        predicted = predictor(obs, actions, tuple(horizons))
        frame_scores.append(psnr(predicted, targets))
        moving_scores.append(masked_psnr(predicted, targets, masks))
    frame, moving = torch.cat(frame_scores), torch.cat(moving_scores)
    return OpenLoopPSNR({h: float(frame[:, i].mean()) for i, h in enumerate(horizons)},
                        {h: float(moving[:, i].nanmean()) for i, h in enumerate(horizons)})


@torch.no_grad()
def open_loop_psnr(model: WorldModel, data: str | Path, horizons: tuple[int, ...] = (1, 10, 50), windows: int = 32,
                   batch_size: int = 16, seed: int = 0) -> dict[int, float]:
    """Mean PSNR (dB) of ``model``'s predicted frame k steps after the initial pair, for each k in ``horizons``."""
    return open_loop_quality(model_predictor(model), data, horizons, windows, batch_size, seed, next(model.parameters()).device).frame
