"""LaWM-v0: gymnasium and stable-baselines3 checkers, seeding, the vector env, the SB3 adapter, bad use."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

import lawm_env  # noqa: F401  (registers LaWM-v0)
from lawm_env.envs.sb3 import LaWMVecEnv
from tests.solver_faults import fail_second_solve


def _make(checkpoint, **kw):
    return gym.make("LaWM-v0", checkpoint=str(checkpoint), **kw)


@pytest.mark.parametrize("obs_type", ["pixels", "latent"])
@pytest.mark.parametrize("checkpoint", ["tiny_checkpoint64", "tiny_angle_checkpoint64"])
def test_gymnasium_and_sb3_env_checkers_pass(checkpoint, obs_type, request):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    tiny_checkpoint64 = request.getfixturevalue(checkpoint)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # latent coordinates are unbounded, like the observations of gymnasium's own MuJoCo envs
        warnings.filterwarnings("ignore", message=".*(minimum value is -infinity|maximum value is infinity)")
        env = _make(tiny_checkpoint64, obs_type=obs_type, render_mode="rgb_array")
        check_env(env.unwrapped, skip_render_check=False)
        sb3_check_env(env.unwrapped, warn=True)
    env.close()


@pytest.mark.parametrize("env_id", [i for i in gym.registry if i.startswith("LaWM")])
def test_seeded_episodes_are_reproducible(env_id, tiny_checkpoint):
    def episode(seed):
        env = gym.make(env_id, checkpoint=str(tiny_checkpoint), obs_type="latent")
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for _ in range(6):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            out.append(np.append(obs, [reward, info["del_residual"], info["latent_energy"]]))
        return np.concatenate(out)

    assert np.array_equal(episode(3), episode(3))
    assert not np.array_equal(episode(3), episode(4))


def test_step_contract_spaces_and_info(tiny_checkpoint):
    env = _make(tiny_checkpoint, render_mode="rgb_array")
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.uint8 and obs.shape == (32, 32, 3) and env.observation_space.contains(obs)
    assert env.action_space.dtype == np.float32 and (env.action_space.low == -1).all() and (env.action_space.high == 1).all()
    truncations = 0
    for t in range(10):
        obs, reward, terminated, truncated, info = env.step(np.array([0.5], dtype=np.float32))
        assert set(info) == {"del_residual", "newton_iterations", "converged", "latent_energy"}
        assert info["converged"] and np.isfinite(info["latent_energy"]) and isinstance(reward, float)
        assert not terminated
        truncations += truncated
    assert truncated and truncations == 1  # the tiny model's episodes last 10 steps
    assert env.render().shape == (32, 32, 3)


def test_reset_from_given_frames(tiny_checkpoint):
    env = _make(tiny_checkpoint, obs_type="latent")
    frames = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    frames[1, 10:20, 10:20] = 255
    obs, _ = env.reset(options={"frames": frames, "action": np.array([0.3], dtype=np.float32)})
    model = env.unwrapped.model
    with torch.no_grad():
        q = model.encode(torch.from_numpy(frames))
    expected = torch.cat([q[1], (q[1] - q[0]) / model.config.dt]).numpy()
    assert np.allclose(obs, expected, atol=1e-6)
    with pytest.raises(ValueError, match="frames"):
        env.reset(options={"frames": np.zeros((3, 32, 32), dtype=np.uint8)})


def test_bad_use_gets_clear_errors(tiny_checkpoint, tmp_path):
    env = _make(tiny_checkpoint).unwrapped
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(1, dtype=np.float32))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.array([np.nan], dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3, dtype=np.float32))
    with pytest.raises(FileNotFoundError, match="lawm train"):
        gym.make("LaWM-v0", checkpoint=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="obs_type"):
        gym.make("LaWM-v0", checkpoint=str(tiny_checkpoint), obs_type="state")


@pytest.mark.parametrize("obs_type", ["latent", "pixels"])
def test_vector_env_equals_single_envs(tiny_checkpoint, obs_type):
    n, steps = 4, 14  # crosses an autoreset (episodes of 10 steps)
    venv = gym.make_vec("LaWM-v0", num_envs=n, vectorization_mode="vector_entry_point", checkpoint=str(tiny_checkpoint), obs_type=obs_type)
    singles = [_make(tiny_checkpoint, obs_type=obs_type) for _ in range(n)]
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(steps, n, 1)).astype(np.float32)
    obs_v, _ = venv.reset(seed=10)
    obs_s = np.stack([env.reset(seed=10 + i)[0] for i, env in enumerate(singles)])
    # Batched and single solves stop at different iterates within the DEL tolerance (residual 1e-4), not bitwise:
    # a solution moves by up to ~2·h·M⁻¹·1e-4 (M ~ 0.5 here: 4e-5 in q, 4e-4 in the velocity features
    # (q_k - q_{k-1})/h), and such differences carry over to later steps; decoded pixels may round to a
    # neighbouring uint8 value.
    tol = 1 if obs_type == "pixels" else 1e-3
    assert np.abs(obs_v.astype(float) - obs_s.astype(float)).max() <= tol
    needs_reset = np.zeros(n, dtype=bool)
    for t in range(steps):
        obs_v, rew_v, term_v, trunc_v, info_v = venv.step(actions[t])
        for i, env in enumerate(singles):
            if needs_reset[i]:  # NEXT_STEP autoreset: this step resets sub-env i
                obs, reward, truncated = env.reset()[0], 0.0, False
            else:
                obs, reward, _, truncated, _ = env.step(actions[t, i])
            assert np.abs(obs_v[i].astype(float) - obs.astype(float)).max() <= tol, (t, i)
            assert abs(rew_v[i] - reward) < 1e-4 and trunc_v[i] == truncated
            needs_reset[i] = truncated
    assert venv.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    assert "_del_residual" in info_v


def test_sb3_ppo_trains_on_the_vector_adapter(tiny_checkpoint):
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecEnv

    venv = LaWMVecEnv(num_envs=8, seed=0, checkpoint=str(tiny_checkpoint), obs_type="latent")
    assert isinstance(venv, VecEnv)
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    obs = venv.reset()
    obs, rewards, dones, infos = venv.step(model.predict(obs, deterministic=True)[0])
    assert obs.shape == (8, 8) and rewards.shape == (8,) and len(infos) == 8
    venv.close()


def test_sb3_adapter_resets_in_the_same_step(tiny_checkpoint):
    venv = LaWMVecEnv(num_envs=3, seed=1, checkpoint=str(tiny_checkpoint), obs_type="latent")
    venv.reset()
    for t in range(10):
        obs, rewards, dones, infos = venv.step(np.zeros((3, 1), dtype=np.float32))
    assert dones.all() and all("terminal_observation" in i and i["TimeLimit.truncated"] for i in infos)
    assert not np.allclose(obs, np.stack([i["terminal_observation"] for i in infos]))


def test_real_env_latent_wrapper_matches_the_encoder(tiny_checkpoint64):
    from lawm_env.data.dmc import make_pixel_env
    from lawm_env.envs.real_latent import LatentObservation

    checkpoint = tiny_checkpoint64
    raw = make_pixel_env("cartpole-swingup", 64)
    env = LatentObservation(make_pixel_env("cartpole-swingup", 64), checkpoint)
    try:
        obs, _ = env.reset(seed=5)
        frame0, _ = raw.reset(seed=5)
        frame1, *_ = raw.step(np.zeros(1, dtype=np.float32))
        model = env.model
        with torch.no_grad():
            q = model.encode(torch.from_numpy(np.stack([frame0, frame1])))
        assert obs.shape == env.observation_space.shape
        assert np.allclose(obs, torch.cat([q[1], (q[1] - q[0]) / model.config.dt]).numpy(), atol=1e-5)
        obs2, reward, terminated, truncated, _ = env.step(np.array([0.2], dtype=np.float32))
        frame2, raw_reward, *_ = raw.step(np.array([0.2], dtype=np.float32))
        assert reward == raw_reward
        with torch.no_grad():
            q2 = model.encode(torch.from_numpy(np.ascontiguousarray(frame2))[None])[0]
        assert np.allclose(obs2[:4], q2.numpy(), atol=1e-5)
    finally:
        env.close()
        raw.close()


def test_export_for_the_env_stores_episode_length_and_real_initial_states(tiny_checkpoint64, tmp_path):
    from lawm_env.checkpoint import read_checkpoint
    from lawm_env.cli import main
    from lawm_env.envs.initial_states import STATES_FILE, StoredStates

    out = tmp_path / "exported"
    main(["export", "--checkpoint", str(tiny_checkpoint64), "--out", str(out), "--initial-states", "4"])
    info = read_checkpoint(out)
    assert info.metadata["episode_steps"] == 125 and not (out / "optimizer.safetensors").exists()
    states = StoredStates(out / STATES_FILE, torch.device("cpu"))
    assert states.pairs.q.shape == (4, 4) and not torch.equal(states.pairs.q[0], states.pairs.q[1])
    env = gym.make("LaWM-v0", checkpoint=str(out), obs_type="latent")
    obs, _ = env.reset(seed=0)
    assert any(np.allclose(obs[:4], q.numpy(), atol=1e-6) for q in states.pairs.q)


@pytest.mark.parametrize("end_on_divergence", [True, False])
def test_a_failed_del_solve_ends_the_episode_without_reward(tiny_checkpoint, monkeypatch, end_on_divergence):
    from lawm_env.envs.vector import LaWMVectorEnv

    venv = LaWMVectorEnv(3, checkpoint=str(tiny_checkpoint), obs_type="latent", end_on_divergence=end_on_divergence)
    venv.reset(seed=0)
    fail_second_solve(monkeypatch, venv.model, [True, False, True])  # the second step fails in env 1
    actions = np.zeros((3, 1), dtype=np.float32)
    _, first, _, truncated, _ = venv.step(actions)
    assert not truncated.any() and (first != 0).all()
    _, rewards, terminated, truncated, info = venv.step(actions)
    assert not terminated.any() and not info["converged"][1]
    if end_on_divergence:
        assert truncated.tolist() == [False, True, False] and rewards[1] == 0.0 and rewards[0] != 0.0
        venv.step(actions)
        assert venv.sim.steps.tolist() == [3, 0, 3]  # env 1 was reset by the NEXT_STEP autoreset
    else:
        assert not truncated.any() and rewards[1] != 0.0
