"""Open-loop prediction videos: true frames beside the model's prediction, written with imageio."""

from __future__ import annotations

import os
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch

from lawm_env.model import WorldModel, to_uint8


def predict_window(model: WorldModel, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Frames (L+1, H, W, 3) uint8 predicted open loop from the first two encoded frames with the true actions;
    frames 0 and 1 are the reconstructions they start from."""
    q = model.encode(obs[None])
    state = model.start(q[:, 0], q[:, 1], actions[None, 0])
    _, imagined = model.rollout(state, actions[None, 1:])
    latents = torch.cat([q[:, :2], imagined.positions], 1)
    return to_uint8(model.decode(latents))[0]


def write_prediction_video(model: WorldModel, window: dict[str, torch.Tensor], path: str | Path, device: torch.device, fps: int = 10) -> Path:
    """Write ``path`` (.mp4 or .gif): each frame is [true | predicted] for one time step of ``window``."""
    obs, actions = window["obs"].to(device), window["actions"].to(device)
    predicted = predict_window(model, obs, actions)
    frames = np.concatenate([obs.cpu().numpy(), predicted.cpu().numpy()], axis=2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    imageio.mimwrite(tmp, list(frames), fps=fps) if path.suffix == ".mp4" else imageio.mimwrite(tmp, list(frames), duration=1000 / fps)
    os.replace(tmp, path)
    return path
