"""The world-model objective, the MPC agent, the demo and the model-based RL loop."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from lawm_env.data.collection import append_episodes
from lawm_env.data.episode import Episode
from lawm_env.data.storage import ShardError, load_episodes
from lawm_env.noise import ActionNoise
from lawm_env.model.io import load_world_model
from planners import CEM
from agents.imagined_return import ImaginedReturn
from agents.mpc import MPCAgent
from tests.solver_faults import fail_second_solve


@pytest.fixture()
def model(tiny_checkpoint):
    return load_world_model(tiny_checkpoint)


def _start(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(4, generator=g) * 0.1
    return q, q + 0.01 * torch.randn(4, generator=g), torch.zeros(1)


def test_objective_equals_the_summed_imagined_rewards(model):
    objective = ImaginedReturn(model, discount=0.9)
    q_prev, q, u = _start(model)
    objective.set_start(q_prev, q, u)
    actions = torch.rand(6, 5, 1) * 2 - 1
    returns = objective(actions)
    with torch.no_grad():
        _, imagined = model.rollout(model.start(q_prev.expand(6, -1), q.expand(6, -1), u.expand(6, -1)), actions)
    assert imagined.converged.all()
    expected = (imagined.rewards * 0.9 ** torch.arange(5.0)).sum(1)
    torch.testing.assert_close(returns, expected)
    assert objective.imagined_steps == 30
    value = ImaginedReturn(model, discount=0.9, terminal_value=lambda state: state.q.sum(-1))
    value.set_start(q_prev, q, u)
    torch.testing.assert_close(value(actions), expected + 0.9**5 * imagined.positions[:, -1].sum(-1))


def test_rewards_after_a_non_converged_solve_do_not_count(model, monkeypatch):
    objective = ImaginedReturn(model)
    objective.set_start(*_start(model))
    actions = torch.zeros(3, 4, 1)
    full = objective(actions)
    fail_second_solve(monkeypatch, model, [True, False, True])
    cut = objective(actions)
    with torch.no_grad():
        _, imagined = model.rollout(model.start(*(x.expand(3, -1) for x in _start(model))), actions)
    torch.testing.assert_close(cut[[0, 2]], full[[0, 2]])
    torch.testing.assert_close(cut[1], imagined.rewards[1, 0])


def test_objective_rejects_bad_starts(model):
    objective = ImaginedReturn(model)
    with pytest.raises(RuntimeError, match="set_start"):
        objective(torch.zeros(2, 3, 1))
    with pytest.raises(ValueError, match="start must be"):
        objective.set_start(torch.zeros(3), torch.zeros(4), torch.zeros(1))


def test_mpc_agent_acts_in_bounds_deterministically_and_explores(model):
    frames = [np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8) for i in range(4)]

    def episode(explore: bool, seed: int = 0) -> list[np.ndarray]:
        agent = MPCAgent(model, CEM(5, 1, population=16, elites=4, iterations=2), exploration_noise=0.5, seed=seed)
        agent.reset(seed)
        return [agent.act(f, explore) for f in frames]

    plain = episode(False)
    assert all(a.shape == (1,) and a.dtype == np.float32 and -1 <= a[0] <= 1 for a in plain)
    assert all(np.array_equal(a, b) for a, b in zip(plain, episode(False)))
    noisy = episode(True)
    assert not all(np.array_equal(a, b) for a, b in zip(plain, noisy))
    assert all(-1 <= a[0] <= 1 for a in noisy)


def test_mpc_agent_adds_colored_exploration_noise_to_its_plans(model):
    frames = [np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8) for i in range(6)]
    agent = MPCAgent(model, CEM(4, 1, population=8, elites=2, iterations=1), exploration_noise=0.4, seed=3, exploration_beta=1.0)
    expected = ActionNoise(0.4, 1.0, seed=3)
    agent.reset(3)
    taken = []
    for frame in frames:
        taken.append(agent.act(frame, explore=True))
        planned = agent.last_plan.actions[0].numpy()
        np.testing.assert_allclose(taken[-1], np.clip(planned + expected.sample(1), -1, 1), atol=1e-6)
    agent.reset(3)
    assert all(np.array_equal(a, agent.act(f, explore=True)) for a, f in zip(taken, frames))  # seeded by reset
    with pytest.raises(ValueError, match="exponent"):
        MPCAgent(model, CEM(4, 1), exploration_beta=-1.0)


def test_mpc_agent_rejects_bad_frames_and_planners(model):
    agent = MPCAgent(model, CEM(5, 1, population=8, elites=2, iterations=1))
    with pytest.raises(ValueError, match="uint8"):
        agent.act(np.zeros((64, 64, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        agent.act(np.zeros((32, 32, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="planner plans"):
        MPCAgent(model, CEM(5, 2))
    with pytest.raises(RuntimeError, match="no plan"):
        agent.imagined_plan()


def _observed_starts(agent: MPCAgent, frames: list[np.ndarray]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The latents each plan started from, and the actions taken, over one episode of ``frames``."""
    starts, original = [], agent.objective.set_start
    agent.objective.set_start = lambda q_prev, q, u_prev: (starts.append(q.clone()), original(q_prev, q, u_prev))[1]
    agent.reset(0)
    actions = [torch.as_tensor(agent.act(f)) for f in frames]
    return starts, actions


def test_mbrl_passes_the_exploration_noise_to_its_agent(model):
    from lawm_env.cli.mbrl import Config, make_mpc_agent
    from lawm_env.training.online import OnlineConfig

    agent = make_mpc_agent(Config().planner)(model, OnlineConfig(exploration_beta=1.0))
    assert agent.noise.beta == 1.0 and agent.noise.std == OnlineConfig().exploration_noise


def _failed(batch: int):
    from lawm_env.mechanics.solver import DELInfo

    return DELInfo(torch.zeros(batch, dtype=torch.long), torch.full((batch,), float("inf")), torch.zeros(batch, dtype=torch.bool))


def test_imagined_plan_decodes_the_plan(model):
    agent = MPCAgent(model, CEM(5, 1, population=8, elites=2, iterations=1))
    agent.reset(0)
    agent.act(np.zeros((32, 32, 3), dtype=np.uint8))
    plan = agent.imagined_plan()
    assert plan.shape == (5, 32, 32, 3) and 0 <= float(plan.min()) and float(plan.max()) <= 1


def _episode(steps: int, value: float) -> Episode:
    return Episode(obs=np.full((steps + 1, 8, 8, 3), value, dtype=np.uint8), actions=np.zeros((steps, 1), np.float32),
                   rewards=np.full(steps, value, np.float32), terminated=False, truncated=True)


def test_append_episodes_grows_a_collection_and_guards_its_identity(tmp_path):
    identity = {"source": "dmc:cartpole-swingup", "image_size": 8}
    assert append_episodes(tmp_path, [_episode(3, 1)], identity) == 1
    (tmp_path / "shard_00001.npz").write_bytes(b"leftover of an interrupted append")
    assert append_episodes(tmp_path, [_episode(4, 2), _episode(2, 3)], identity) == 3
    episodes = load_episodes(tmp_path)
    assert [e.steps for e in episodes] == [3, 4, 2] and [float(e.rewards[0]) for e in episodes] == [1, 2, 3]
    with pytest.raises(ShardError, match="different collection"):
        append_episodes(tmp_path, [_episode(3, 1)], {**identity, "image_size": 16})
    with pytest.raises(ValueError, match="at least one"):
        append_episodes(tmp_path, [], identity)


TINY_LOOP = ["--online.seed-episodes", "1", "--online.episode-steps", "6", "--online.initial-train-steps", "2",
             "--online.train-steps", "1", "--online.batch-size", "2", "--online.window", "4", "--online.model.latent-dim", "4",
             "--online.model.hidden", "16", "--online.model.channels", "8", "--online.threads", "1", "--online.device", "cpu",
             "--planner.population", "8", "--planner.elites", "2", "--planner.iterations", "1", "--planner.horizon", "3"]


def _returns(path) -> list[tuple]:
    with open(path / "returns.csv") as f:
        return [(r["episode"], r["kind"], r["env_steps"], r["return"], r["train_steps"]) for r in csv.DictReader(f)]


def test_mbrl_loop_logs_returns_and_resumes_exactly(tmp_path, capsys):
    from lawm_env.cli import main

    main(["mbrl", "--online.out", str(tmp_path / "once"), "--online.iterations", "3", *TINY_LOOP])
    main(["mbrl", "--online.out", str(tmp_path / "twice"), "--online.iterations", "2", *TINY_LOOP])
    main(["mbrl", "--online.out", str(tmp_path / "twice"), "--online.iterations", "3", *TINY_LOOP])
    once, twice = _returns(tmp_path / "once"), _returns(tmp_path / "twice")
    assert [r[:3] for r in once] == [("0", "random", "6"), ("1", "agent", "12"), ("2", "agent", "18"), ("3", "agent", "24")]
    assert once == twice
    assert len(load_episodes(tmp_path / "once" / "data")) == 4
    assert "4 episodes, 24 env steps" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="other options"):
        main(["mbrl", "--online.out", str(tmp_path / "once"), "--online.iterations", "3", *TINY_LOOP, "--online.exploration-noise", "0.1"])


def test_mbrl_loop_recovers_records_of_appended_episodes(tmp_path):
    from lawm_env.cli import main

    out = tmp_path / "run"
    main(["mbrl", "--online.out", str(out), "--online.iterations", "1", *TINY_LOOP])
    state = json.loads((out / "online.json").read_text())
    (out / "online.json").write_text(json.dumps({"records": state["records"][:1]}))  # interrupted before the save
    main(["mbrl", "--online.out", str(out), "--online.iterations", "1", *TINY_LOOP])
    assert [r[:3] for r in _returns(out)] == [("0", "random", "6"), ("1", "agent", "12")]


def test_demo_runs_mpc_and_random_on_the_default_model(tmp_path, capsys):
    from lawm_env.cli import main

    main(["demo", "--steps", "3", "--planner.population", "8", "--planner.elites", "2", "--planner.iterations", "1",
          "--out", str(tmp_path), "--threads", "1", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "MPC return" in out and "random return" in out and "plan ms/action" in out
    assert "MPC with mppi (population 8, horizon 12, 1 iteration, temperature 10, noise std 0.5)" in out
    videos = sorted(p.name for p in tmp_path.iterdir())
    assert videos == ["mpc_cartpole-swingup_seed0.gif", "mpc_cartpole-swingup_seed0.mp4"]
    assert (tmp_path / videos[1]).stat().st_size > 0


def test_online_options_reach_the_world_model_and_are_pinned_with_the_run_format(tmp_path):
    from conftest import online_config
    from lawm_env.errors import UserError
    from lawm_env.training.losses import LossWeights
    from lawm_env.training.online import OnlineRun

    weighted = online_config(out=str(tmp_path / "run"), weights=LossWeights(foreground=20.0), substeps=2, init="default")
    trained = weighted.train_run(10)
    assert trained.train == weighted.train and trained.train.model.substeps == 2 and trained.train.init == "default"
    assert trained.steps == 10 and trained.data == str(tmp_path / "run" / "data") and not trained.progress
    OnlineRun(weighted)
    OnlineRun(weighted)  # the same options resume
    with pytest.raises(ValueError, match=r"train\.model\.substeps: 2 \(run\) vs 1 \(asked\).*train\.weights\.foreground: 20\.0 \(run\) vs 0\.0 \(asked\)"):
        OnlineRun(online_config(out=str(tmp_path / "run"), init="default"))
    options = tmp_path / "run" / "options.json"
    recorded = json.loads(options.read_text())
    assert recorded["run_format"] == 2
    options.write_text(json.dumps(recorded["options"]))  # as a run recorded by an earlier version
    with pytest.raises(UserError, match="another version of lawm"):
        OnlineRun(weighted)


def test_demo_frames_show_three_captioned_panels():
    from lawm_env.cli.demo import demo_frame
    from lawm_env.training.video import label

    real = np.full((64, 64, 3), 90, dtype=np.uint8)
    plan = torch.full((12, 64, 64, 3), 0.5)
    frame = demo_frame(real, plan, scale=1)
    assert frame.shape == (71, 192, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame[:, :64], label(real, "real"))
    assert not np.array_equal(frame[:7, 64:128], frame[:7, 128:])  # "imagined +1" and "imagined +12" differ
    assert demo_frame(real, plan, scale=3).shape == (213, 576, 3)
