"""The native vector env of LaWM-v0: all N latent states advance as one batched DEL solve on one device."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from lawm_env.envs.env import (
    InitSource,
    as_action_array,
    frames_option,
    make_initial_states,
    observation_space,
)
from lawm_env.envs.initial_states import LatentPairs, encode_pair
from lawm_env.envs.latent_simulator import LatentSimulator, ObsType, to_numpy
from lawm_env.model.io import load_world_model, model_dir, model_metadata


class LaWMVectorEnv(gym.vector.VectorEnv):
    """``gymnasium.make_vec("LaWM-v0", num_envs=N, vectorization_mode="vector_entry_point")``.

    Sub-environment i behaves exactly like a single ``LaWM-v0`` reset with seed ``seed + i``. Autoreset follows
    gymnasium's NEXT_STEP mode: the step after an episode ends resets that sub-environment (its action is
    ignored, reward 0). Infos hold arrays with gymnasium's ``_name`` masks. Same keyword arguments as LaWM-v0.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 12, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, checkpoint: str | Path | None = None, obs_type: ObsType = "pixels",
                 device: str = "auto", render_mode: str | None = None, init: InitSource = "auto", data: str | None = None,
                 max_episode_steps: int | None = None, end_on_divergence: bool = True) -> None:
        path = model_dir(checkpoint)
        model, meta = load_world_model(path, device), model_metadata(path)
        self.model, self.num_envs, self.render_mode = model, num_envs, render_mode
        steps = max_episode_steps or int(meta.get("episode_steps", 1000))
        self.sim = LatentSimulator(model, num_envs, obs_type, make_initial_states(init, model, path, meta, data), steps,
                                   end_on_divergence)
        self.single_observation_space = observation_space(model, obs_type)
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, shape=(model.config.action_dim,), dtype=np.float32)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._env_rngs = [seeding.np_random()[0] for _ in range(num_envs)]
        self._generators = [torch.Generator() for _ in range(num_envs)]
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._started = False

    def _sample(self, rows: np.ndarray) -> LatentPairs:
        """Initial states of ``rows``, each from its own generator (as N single envs would draw them)."""
        parts = []
        for i in rows:
            self._generators[i].manual_seed(int(self._env_rngs[i].integers(2**62)))
            parts.append(self.sim.initial_states.sample(1, self._generators[i]))
        return LatentPairs(*(torch.cat(t) for t in zip(*parts)))

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        if seed is not None:
            seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"need {self.num_envs} seeds, got {len(seeds)}")
            self._env_rngs = [seeding.np_random(s)[0] for s in seeds]
        given = frames_option(options, self.model.config.action_dim)
        rows = np.arange(self.num_envs)
        if given is not None:
            frames, actions = given
            if frames.shape[0] not in (1, self.num_envs):
                raise ValueError(f"options['frames'] must hold 1 or {self.num_envs} pairs, got {frames.shape[0]}")
            pairs = encode_pair(self.model, frames.expand(self.num_envs, *frames.shape[1:]), actions.expand(self.num_envs, -1))
        else:
            pairs = self._sample(rows)
        self.sim.reset(torch.ones(self.num_envs, dtype=torch.bool), pairs=pairs)
        self._autoreset[:] = False
        self._started = True
        return self.observations(), {}

    def restart(self, mask: np.ndarray) -> None:
        """Start new episodes now in the sub-environments ``mask`` (bool, (N,)), drawing their initial states
        as single envs reset without a seed would."""
        rows = np.flatnonzero(mask)
        if rows.size:
            self.sim.reset(torch.from_numpy(np.asarray(mask, dtype=bool)), pairs=self._sample(rows))
            self._autoreset[rows] = False

    def observations(self) -> np.ndarray:
        """The current observations of all sub-environments."""
        return to_numpy(self.sim.observe())

    def step(self, actions):
        if not self._started:
            raise RuntimeError("LaWM-v0 vector env: call reset() before step()")
        a = torch.from_numpy(as_action_array(actions, self.action_space.shape)).to(self.sim.device)
        rewards, truncated, extras = self.sim.step(a)
        rewards, truncated = to_numpy(rewards).astype(np.float64), to_numpy(truncated)
        resetting = self._autoreset.copy()
        if resetting.any():
            self.restart(resetting)
            rewards[resetting], truncated[resetting] = 0.0, False
        infos: dict = {}
        for name, value in extras.items():
            infos[name], infos[f"_{name}"] = to_numpy(value), ~resetting
        terminated = np.zeros(self.num_envs, dtype=bool)
        self._autoreset = terminated | truncated
        return self.observations(), rewards, terminated, truncated, infos

    def render(self):
        if self.render_mode != "rgb_array" or self.sim.state is None:
            return None
        return to_numpy(self.sim.render())

    def close_extras(self, **kwargs) -> None:
        close = getattr(self.sim.initial_states, "close", None)
        if close is not None:
            close()
