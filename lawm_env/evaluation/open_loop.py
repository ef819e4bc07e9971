"""Open-loop prediction quality: decode H imagined steps from the first two encoded frames of held-out
windows, driven by the true actions, and compare with the true frames."""

from __future__ import annotations

from pathlib import Path

import torch

from lawm_env.data.dataset import WindowDataset
from lawm_env.evaluation.metrics import psnr
from lawm_env.model import WorldModel
from lawm_env.training.losses import frames_as_targets


@torch.no_grad()
def open_loop_psnr(model: WorldModel, data: str | Path, horizons: tuple[int, ...] = (1, 10, 50), windows: int = 32,
                   batch_size: int = 16, seed: int = 0) -> dict[int, float]:
    """Mean PSNR (dB) of the predicted frame k steps after the initial pair, for each k in ``horizons``, over
    ``windows`` windows drawn (seeded) from the collection ``data``."""
    longest = max(horizons)
    dataset = WindowDataset(data, window=longest + 1, with_states=False)
    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(len(dataset), generator=generator)[:windows]
    device = next(model.parameters()).device
    scores: dict[int, list[torch.Tensor]] = {h: [] for h in horizons}
    for chunk in index.split(batch_size):
        items = [dataset[int(i)] for i in chunk]
        obs = torch.stack([it["obs"] for it in items]).to(device)
        actions = torch.stack([it["actions"] for it in items]).to(device)
        q = model.encode(obs[:, :2])
        _, imagined = model.rollout(model.start(q[:, 0], q[:, 1], actions[:, 0]), actions[:, 1 : 1 + longest])
        targets = frames_as_targets(obs[:, 2 : 2 + longest])
        for h in horizons:
            scores[h].append(psnr(model.decode(imagined.positions[:, h - 1]), targets[:, h - 1]))
    return {h: float(torch.cat(v).mean()) for h, v in scores.items()}
