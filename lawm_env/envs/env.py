"""``LaWM-v0``: a gymnasium environment whose ``step`` is one forced DEL integration of a learned world model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch

from lawm_env.data.sources import dmc_task
from lawm_env.envs.initial_states import (
    STATES_FILE,
    DatasetStates,
    InitialStates,
    RealTaskStates,
    StoredStates,
    encode_pair,
)
from lawm_env.envs.latent_simulator import LatentSimulator, ObsType, to_numpy
from lawm_env.model import WorldModel
from lawm_env.model.io import load_world_model, model_dir, model_metadata

InitSource = Literal["auto", "states", "dataset", "real"]


def make_initial_states(init: InitSource, model: WorldModel, checkpoint: Path, metadata: dict, data: str | None) -> InitialStates:
    """The initial-state source named by ``init`` ("auto": stored states, else the real task, else ``data``)."""
    source = str(metadata.get("data_source", ""))
    task = dmc_task(source)
    if init == "auto":
        init = "states" if (checkpoint / STATES_FILE).is_file() else ("dataset" if data else ("real" if task else "states"))
    if init == "states":
        return StoredStates(checkpoint / STATES_FILE, next(model.parameters()).device)
    if init == "dataset":
        if data is None:
            raise ValueError("init='dataset' needs data=<collection directory made by `lawm collect`>")
        return DatasetStates(model, data)
    if init == "real":
        if task is None:
            raise ValueError(f"init='real' needs a model trained on a dm-control task; this one was trained on {source or 'unknown data'}")
        return RealTaskStates(model, task)
    raise ValueError(f"init must be 'auto', 'states', 'dataset' or 'real', got {init!r}")


def observation_space(model: WorldModel, obs_type: ObsType) -> gym.spaces.Box:
    size = model.config.image_size
    if obs_type == "pixels":
        return gym.spaces.Box(0, 255, shape=(size, size, 3), dtype=np.uint8)
    return gym.spaces.Box(-np.inf, np.inf, shape=(2 * model.config.latent_dim + model.config.angles,), dtype=np.float32)


def as_action_array(actions: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Actions as float32 of ``shape``, clipped to [-1, 1]; NaN/Inf and wrong shapes raise ValueError."""
    a = np.asarray(actions, dtype=np.float32)
    if a.shape != shape:
        raise ValueError(f"action must have shape {shape}, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"action contains NaN or Inf: {a}")
    return np.clip(a, -1.0, 1.0)


def frames_option(options: dict | None, action_dim: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``options={"frames": (2, H, W, 3) uint8, "action": (m,)}`` as batched tensors (action defaults to zero)."""
    if not options or "frames" not in options:
        return None
    frames = torch.as_tensor(np.asarray(options["frames"]))
    if frames.dim() == 4:
        frames = frames[None]
    if frames.dim() != 5 or frames.shape[1] != 2 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
        raise ValueError(f"options['frames'] must be uint8 of shape (2, H, W, 3) (or (n, 2, H, W, 3)), got {tuple(frames.shape)} {frames.dtype}")
    action = torch.as_tensor(np.asarray(options.get("action", np.zeros(action_dim)), dtype=np.float32)).reshape(-1, action_dim)
    return frames, action.expand(frames.shape[0], action_dim)


class LaWMEnv(gym.Env):
    """Imagined episodes of a trained Least Action World Model.

    ``step(action)`` is exactly one forced DEL integration in latent space with the action in the forcing term;
    the reward comes from the model's reward head; episodes truncate after ``max_episode_steps`` (the task's
    length by default). ``info`` carries the DEL residual, Newton iterations, convergence flag and latent energy.

    Args:
        checkpoint: a checkpoint directory (``<run>/checkpoint``); None loads the embedded default model.
        obs_type: "pixels" (decoded 64x64x3 uint8 frames) or "latent" (float32 (q, q̇), angles as cos, sin).
        device: "auto", "cpu", "cuda", ...
        render_mode: None or "rgb_array" (the decoded frame).
        init: where initial states come from: "states" (stored beside the model), "dataset" (needs ``data``),
            "real" (reset the real dm-control task and encode its frames) or "auto".
        data: a collection directory for ``init="dataset"``.
        max_episode_steps: episode length (default: the task's, from the model's metadata).
        end_on_divergence: a step whose DEL solve did not converge earns no reward and truncates the episode
            (``info["converged"]`` is False on it); False keeps stepping from wherever the solver stopped.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 12}

    def __init__(self, checkpoint: str | Path | None = None, obs_type: ObsType = "pixels", device: str = "auto",
                 render_mode: str | None = None, init: InitSource = "auto", data: str | None = None,
                 max_episode_steps: int | None = None, end_on_divergence: bool = True) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        path = model_dir(checkpoint)
        model, meta = load_world_model(path, device), model_metadata(path)
        self.model, self.render_mode, self.obs_type = model, render_mode, obs_type
        steps = max_episode_steps or int(meta.get("episode_steps", 1000))
        self.sim = LatentSimulator(model, 1, obs_type, make_initial_states(init, model, path, meta, data), steps,
                                   end_on_divergence)
        self.observation_space = observation_space(model, obs_type)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(model.config.action_dim,), dtype=np.float32)
        self.spec_task = meta.get("data_source")
        self._generator = torch.Generator()
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None or not self._started:
            self._generator.manual_seed(int(self.np_random.integers(2**62)))
        given = frames_option(options, self.model.config.action_dim)
        pairs = None if given is None else encode_pair(self.model, given[0][:1], given[1][:1])
        self.sim.reset(torch.ones(1, dtype=torch.bool), self._generator, pairs)
        self._started = True
        return to_numpy(self.sim.observe())[0], {}

    def step(self, action):
        if not self._started:
            raise RuntimeError("LaWM-v0: call reset() before step()")
        a = torch.from_numpy(as_action_array(action, self.action_space.shape)).to(self.sim.device)[None]
        rewards, truncated, extras = self.sim.step(a)
        info = {k: to_numpy(v)[0].item() for k, v in extras.items()}
        if bool(truncated[0]):
            self._started = False
        return to_numpy(self.sim.observe())[0], float(rewards[0]), False, bool(truncated[0]), info

    def render(self):
        if self.render_mode != "rgb_array" or self.sim.state is None:
            return None
        return to_numpy(self.sim.render())[0]

    def close(self) -> None:
        close = getattr(self.sim.initial_states, "close", None)
        if close is not None:
            close()
