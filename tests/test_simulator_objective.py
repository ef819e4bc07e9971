"""Planning with the true simulator: batched rewards equal the tasks' own, objective returns equal the real
env's returns, the env is left untouched, and MPC with perfect dynamics solves cartpole-swingup (slow)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "egl")

from lawm_env.data.dmc import make_pixel_env, run_episode  # noqa: E402
from lawm_env.data.dmc_rewards import BATCHED_REWARDS, batched_reward  # noqa: E402
from planners.config import PlannerConfig  # noqa: E402
from lawm_env.evaluation.simulator_return import SimulatorReturn  # noqa: E402


@pytest.mark.parametrize("task", sorted(BATCHED_REWARDS))
def test_batched_reward_equals_the_tasks_reward(task):
    from dm_control import suite

    env = suite.load(*task.split("-"), task_kwargs={"random": 0})
    physics, rng = env.physics, np.random.default_rng(0)
    states, expected = [], []
    for _ in range(200):
        qpos = rng.uniform(-np.pi, np.pi, physics.model.nq) * np.r_[0.8, np.ones(physics.model.nq - 1)]
        qvel, ctrl = rng.normal(0, 4, physics.model.nv), rng.uniform(-1.2, 1.2, physics.model.nu)
        with physics.reset_context():
            physics.data.qpos[:], physics.data.qvel[:], physics.data.ctrl[:] = qpos, qvel, ctrl
        states.append((qpos, qvel, ctrl))
        expected.append(env.task.get_reward(physics))
    qpos, qvel, ctrl = (np.stack(x) for x in zip(*states))
    got = batched_reward(task)(qpos.reshape(20, 10, -1), qvel.reshape(20, 10, -1), ctrl.reshape(20, 10, -1))
    assert got.shape == (20, 10)
    np.testing.assert_allclose(got.ravel(), expected, rtol=1e-9, atol=1e-12)
    assert np.ptp(expected) > 0.1, "the random states should span different rewards"


def _replay(env, seed: int, prefix: np.ndarray, sequence: np.ndarray) -> list[float]:
    env.reset(seed=seed)
    for a in prefix:
        env.step(a)
    return [env.step(a)[1] for a in sequence]


def test_simulator_returns_equal_the_real_env_returns_and_leave_it_untouched():
    env = make_pixel_env("cartpole-swingup", size=32)
    try:
        rng = np.random.default_rng(1)
        prefix = rng.uniform(-1, 1, (3, 1))
        actions = torch.as_tensor(rng.uniform(-1.3, 1.3, (4, 6, 1)), dtype=torch.float64)  # outside [-1, 1]: clipped
        env.reset(seed=5)
        for a in prefix:
            env.step(a)
        before = env.physics.get_state().copy()
        returns = SimulatorReturn(env, "cartpole-swingup")(actions)
        discounted = SimulatorReturn(env, "cartpole-swingup", discount=0.9)(actions)
        assert np.array_equal(env.physics.get_state(), before), "the objective must not move the env"
        assert returns.shape == (4,) and returns.dtype == torch.float64
        for i in range(4):
            rewards = _replay(env, 5, prefix, actions[i].numpy())
            assert returns[i].item() == pytest.approx(sum(rewards), rel=1e-9)
            assert discounted[i].item() == pytest.approx(sum(r * 0.9**k for k, r in enumerate(rewards)), rel=1e-9)
    finally:
        env.close()


def test_simulator_objective_rejects_bad_input():
    env = make_pixel_env("cartpole-swingup", size=32)
    try:
        env.reset(seed=0)
        with pytest.raises(ValueError, match="actions must be"):
            SimulatorReturn(env, "cartpole-swingup")(torch.zeros(4, 6))
        with pytest.raises(ValueError, match="actions must be"):
            SimulatorReturn(env, "cartpole-swingup")(torch.zeros(4, 6, 2))
        with pytest.raises(ValueError, match="supports: cartpole-swingup"):
            SimulatorReturn(env, "walker-walk")
        with pytest.raises(ValueError, match="discount"):
            SimulatorReturn(env, "cartpole-swingup", discount=0.0)
    finally:
        env.close()


@pytest.mark.slow
def test_mpc_with_the_true_dynamics_solves_cartpole_swingup():
    """CEM at the demo's budget (population 150, 4 iterations, horizon 12) with perfect dynamics: over 700."""
    env = make_pixel_env("cartpole-swingup", size=32)
    try:
        planner = PlannerConfig(population=150, elites=15, iterations=4).build(1, seed=0)
        objective = SimulatorReturn(env, "cartpole-swingup")
        episode = run_episode(env, 0, 125, lambda frame, state: planner.plan(objective).actions[0].numpy())
        assert episode.rewards.sum() > 700
    finally:
        env.close()
