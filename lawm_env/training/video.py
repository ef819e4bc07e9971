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
    return write_video(list(frames), path, fps)


def write_video(frames: list[np.ndarray], path: str | Path, fps: int = 10) -> Path:
    """Write uint8 (H, W, 3) frames to ``path`` (.mp4 or .gif) atomically (a temporary file, then a rename)."""
    path = Path(path)
    if path.suffix not in (".mp4", ".gif"):
        raise ValueError(f"video path must end in .mp4 or .gif, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    if path.suffix == ".mp4":
        imageio.mimwrite(tmp, frames, fps=fps)
    else:
        imageio.mimwrite(tmp, frames, duration=1000 / fps, loop=0)
    os.replace(tmp, path)
    return path
