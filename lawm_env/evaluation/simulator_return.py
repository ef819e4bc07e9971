"""The planning objective of the true simulator: returns of batched MuJoCo rollouts from a real env's state."""

from __future__ import annotations

import mujoco
import numpy as np
import torch
from mujoco import rollout
from torch import Tensor

from lawm_env.data.dmc import PixelTask
from lawm_env.data.dmc_rewards import batched_reward


class SimulatorReturn:
    """``objective(actions[pop, H, m]) -> returns[pop]``: the true discounted returns of each action sequence
    from the current state of a dm-control pixel env.

    The sequences are rolled out open loop, all at once, through the env's own MuJoCo model
    (``mujoco.rollout``), with the env's action clipping, scaling and repeat; rewards are the task's
    (``lawm_env.data.dmc_rewards``), summed over each repeat. MPC through this objective is the planner with
    perfect dynamics: its return is what the planner reaches in the task, the bound against which MPC
    through a world model is measured. Episode ends inside the horizon (dm-control's time limit) are not
    modelled: every sequence is scored over its whole horizon. The env itself is never stepped.
    """

    def __init__(self, env: PixelTask, task: str, discount: float = 1.0) -> None:
        if not 0 < discount <= 1:
            raise ValueError(f"discount must be in (0, 1], got {discount}")
        self.env, self.discount, self.reward = env, discount, batched_reward(task)

    def __call__(self, actions: Tensor) -> Tensor:
        physics = self.env.physics
        model, data = physics.model.ptr, physics.data.ptr
        if actions.dim() != 3 or actions.shape[-1] != model.nu:
            raise ValueError(f"actions must be (population, horizon, {model.nu}), got {tuple(actions.shape)}")
        population, horizon, _ = actions.shape
        repeat = self.env.action_repeat
        controls = np.repeat(self.env.scale_action(actions.detach().cpu().numpy()), repeat, axis=1)
        spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        start = np.empty(mujoco.mj_stateSize(model, spec))
        mujoco.mj_getState(model, data, start, spec)
        states, _ = rollout.rollout(model, mujoco.MjData(model), start[None], controls,
                                    initial_warmstart=data.qacc_warmstart[None].copy())
        offset = mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_TIME)
        qpos = states[..., offset:offset + model.nq]
        qvel = states[..., offset + model.nq:offset + model.nq + model.nv]
        rewards = self.reward(qpos, qvel, controls).reshape(population, horizon, repeat).sum(-1)
        returns = rewards @ (self.discount ** np.arange(horizon))
        return torch.as_tensor(returns, dtype=actions.dtype, device=actions.device)
