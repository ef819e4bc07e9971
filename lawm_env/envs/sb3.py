"""A stable-baselines3 ``VecEnv`` over the native LaWM-v0 vector env, so SB3 algorithms train on many
imagined environments stepped as one batched DEL solve."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvStepReturn

from lawm_env.envs.vector import LaWMVectorEnv


class LaWMVecEnv(VecEnv):
    """SB3's VecEnv contract: ``step_wait`` resets finished sub-environments at once and puts the last
    observation in ``infos[i]["terminal_observation"]`` (with ``"TimeLimit.truncated"``)."""

    def __init__(self, num_envs: int = 8, seed: int | None = None, **kwargs: Any) -> None:
        self.venv = LaWMVectorEnv(num_envs, **kwargs)
        super().__init__(num_envs, self.venv.single_observation_space, self.venv.single_action_space)
        self._seed = seed
        self._actions: np.ndarray | None = None
        self.render_mode = self.venv.render_mode

    def reset(self):
        obs, _ = self.venv.reset(seed=self._seed)
        self._seed = None  # seeded once; later resets continue the sequence
        return obs

    def seed(self, seed: int | None = None) -> Sequence[None]:
        self._seed = seed
        return [None] * self.num_envs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.float32).reshape(self.num_envs, -1)

    def step_wait(self) -> VecEnvStepReturn:
        venv = self.venv
        obs, rewards, terminated, truncated, extras = venv.step(self._actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{k: v[i] for k, v in extras.items() if not k.startswith("_")} for i in range(self.num_envs)]
        if dones.any():
            rows = np.flatnonzero(dones)
            for i in rows:
                infos[i]["terminal_observation"] = obs[i].copy()
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            venv.restart(dones)  # same-step reset, as SB3 expects
            obs = venv.observations()
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self.venv, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        return [getattr(self.venv, method_name)(*method_args, **method_kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)
