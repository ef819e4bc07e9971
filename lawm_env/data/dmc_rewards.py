"""Rewards of dm-control suite tasks for whole arrays of MuJoCo states at once.

dm-control computes a task's reward from one ``Physics`` at a time. Planning with the true simulator scores
thousands of simulated states per action, so the tasks with planning support have their reward written here
as array code over generalized positions, velocities and controls, with the suite's formulas. The tests check
every function against the task's own ``get_reward`` on random states.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from dm_control.utils import rewards

BatchedReward = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""(qpos (..., nq), qvel (..., nv), ctrl (..., nu)) -> reward (...), the reward after a physics step."""


def cartpole_reward(qpos: np.ndarray, qvel: np.ndarray, ctrl: np.ndarray) -> np.ndarray:
    """Dense cartpole reward (swingup and balance) of one pole: upright · centered · small control · slow pole.

    qpos = (cart position, pole hinge angle), the angle 0 upright; qvel alike; ctrl = (force,) in [-1, 1]."""
    upright = (np.cos(qpos[..., 1]) + 1.0) / 2.0
    centered = (1.0 + rewards.tolerance(qpos[..., 0], margin=2)) / 2.0
    small_control = (4.0 + rewards.tolerance(ctrl[..., 0], margin=1, value_at_margin=0, sigmoid="quadratic")) / 5.0
    small_velocity = (1.0 + rewards.tolerance(qvel[..., 1], margin=5)) / 2.0
    return upright * centered * small_control * small_velocity


def pendulum_reward(qpos: np.ndarray, qvel: np.ndarray, ctrl: np.ndarray) -> np.ndarray:
    """Pendulum swingup (sparse): 1 while the pole is within 8° of upright (hinge angle 0), else 0."""
    return rewards.tolerance(np.cos(qpos[..., 0]), (np.cos(np.deg2rad(8.0)), 1.0))


BATCHED_REWARDS: dict[str, BatchedReward] = {
    "cartpole-swingup": cartpole_reward,
    "cartpole-balance": cartpole_reward,
    "pendulum-swingup": pendulum_reward,
}


def batched_reward(task: str) -> BatchedReward:
    """The array reward of ``task``; tasks without one are named in the error."""
    try:
        return BATCHED_REWARDS[task]
    except KeyError:
        raise ValueError(f"no batched reward for task {task!r}; planning with the true simulator supports: "
                         f"{', '.join(BATCHED_REWARDS)}") from None
