"""Open-loop prediction quality: decode H imagined steps from the first two encoded frames of held-out
windows, driven by the true actions, and compare with the true frames."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch

from lawm_env.data.dataset import WindowDataset
from lawm_env.evaluation.metrics import masked_psnr, psnr
from lawm_env.model import WorldModel
from lawm_env.training.losses import frames_as_targets, moving_pixels


class OpenLoopPSNR(NamedTuple):
    """Mean PSNR (dB) per horizon over whole frames, and over the pixels where the true frame differs from its
    window's temporal median (the moving parts: an image of the background alone scores low here)."""

    frame: dict[int, float]
    moving: dict[int, float]


@torch.no_grad()
def open_loop_psnr(model: WorldModel, data: str | Path, horizons: tuple[int, ...] = (1, 10, 50), windows: int = 32,
                   batch_size: int = 16, seed: int = 0) -> dict[int, float]:
    """Mean PSNR (dB) of the predicted frame k steps after the initial pair, for each k in ``horizons``, over
    ``windows`` windows drawn (seeded) from the collection ``data``."""
    return open_loop_quality(model, data, horizons, windows, batch_size, seed).frame


@torch.no_grad()
def open_loop_quality(model: WorldModel, data: str | Path, horizons: tuple[int, ...] = (1, 10, 50), windows: int = 32,
                      batch_size: int = 16, seed: int = 0) -> OpenLoopPSNR:
    """``open_loop_psnr`` over whole frames and over the moving pixels (frames with none are left out)."""
    longest = max(horizons)
    dataset = WindowDataset(data, window=longest + 1, with_states=False)
    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(len(dataset), generator=generator)[:windows]
    device = next(model.parameters()).device
    scores: dict[int, list[torch.Tensor]] = {h: [] for h in horizons}
    moving: dict[int, list[torch.Tensor]] = {h: [] for h in horizons}
    for chunk in index.split(batch_size):
        items = [dataset[int(i)] for i in chunk]
        obs = torch.stack([it["obs"] for it in items]).to(device)
        actions = torch.stack([it["actions"] for it in items]).to(device)
        q = model.encode(obs[:, :2])
        _, imagined = model.rollout(model.start(q[:, 0], q[:, 1], actions[:, 0]), actions[:, 1 : 1 + longest])
        frames = frames_as_targets(obs)
        masks, targets = moving_pixels(frames)[:, 2:], frames[:, 2 : 2 + longest]
        for h in horizons:
            predicted = model.decode(imagined.positions[:, h - 1])
            scores[h].append(psnr(predicted, targets[:, h - 1]))
            moving[h].append(masked_psnr(predicted, targets[:, h - 1], masks[:, h - 1]))
    return OpenLoopPSNR({h: float(torch.cat(v).mean()) for h, v in scores.items()},
                        {h: float(torch.cat(v).nanmean()) for h, v in moving.items()})
