"""Run a policy trained in LaWM-v0 (obs_type="latent") in the real pixel task: frames are encoded to the same
latent observation (φ(q_k), (q_k - q_{k-1})/h) (``WorldModel.latent_observation``)."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from lawm_env.data.sources import dmc_task
from lawm_env.envs.env import observation_space
from lawm_env.model.io import load_world_model, model_dir, model_metadata


class LatentObservation(gym.Wrapper):
    """Wraps a pixel env (uint8 (H, W, 3) frames, [-1, 1] actions) with a world model's encoder.

    ``reset`` takes one zero-action step so that the first observation has a velocity, exactly as LaWM-v0's
    initial states are made from the real task.
    """

    def __init__(self, env: gym.Env, checkpoint: str | Path | None = None, device: str = "auto") -> None:
        super().__init__(env)
        self.model = load_world_model(checkpoint, device)
        self.observation_space = observation_space(self.model, "latent")
        self._q_prev: torch.Tensor | None = None

    def _observation(self, q: torch.Tensor) -> np.ndarray:
        observation = self.model.latent_observation(self._q_prev, q)
        self._q_prev = q
        return observation.cpu().numpy()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        frame, info = self.env.reset(seed=seed, options=options)
        self._q_prev = self.model.encode_frame(frame)
        frame, _, _, _, info = self.env.step(np.zeros(self.env.action_space.shape, dtype=np.float32))
        return self._observation(self.model.encode_frame(frame)), info

    def step(self, action):
        frame, reward, terminated, truncated, info = self.env.step(action)
        return self._observation(self.model.encode_frame(frame)), reward, terminated, truncated, info


def make_real_latent_env(checkpoint: str | Path | None = None, task: str | None = None, device: str = "auto") -> LatentObservation:
    """The real dm-control pixel task of a model (its training data's task) with latent observations."""
    from lawm_env.data.dmc import make_pixel_env

    path = model_dir(checkpoint)
    source = str(model_metadata(path).get("data_source", ""))
    task = task or dmc_task(source)
    if task is None:
        raise ValueError(f"this model was trained on {source or 'unknown data'}, not a dm-control task: pass task=...")
    return LatentObservation(make_pixel_env(task, 64), path, device)
