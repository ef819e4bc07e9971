"""The world-model objective, the MPC agent, the demo and the model-based RL loop."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from lawm_env.data.collection import append_episodes
from lawm_env.data.episode import Episode, episode_seed
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


@pytest.mark.parametrize("gain", [1.0, 0.3])
def test_mpc_observer_blends_the_models_prediction_with_the_encoding(model, gain):
    frames = [np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8) for i in range(5)]
    agent = MPCAgent(model, CEM(4, 1, population=8, elites=2, iterations=1), observer_gain=gain)
    starts, actions = _observed_starts(agent, frames)
    encoded = [model.encode_frame(f) for f in frames]
    torch.testing.assert_close(starts[0], encoded[0])
    history = [starts[0], *starts]  # the episode starts at rest, with no previous action
    pushes = [torch.zeros(1), *actions]
    for k in range(1, len(frames)):
        with torch.no_grad():
            predicted, info = model.step(model.start(history[k - 1][None], history[k][None], pushes[k - 1][None]), pushes[k][None])
        assert info.converged.all()
        torch.testing.assert_close(starts[k], predicted.q[0] + gain * (encoded[k] - predicted.q[0]))
    if gain == 1.0:
        assert all(torch.equal(s, e) for s, e in zip(starts, encoded))


def test_mpc_observer_ignores_failed_predictions_and_whole_turns(model, tiny_angle_checkpoint64, monkeypatch):
    frames = [np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8) for i in range(3)]
    agent = MPCAgent(model, CEM(4, 1, population=8, elites=2, iterations=1), observer_gain=0.5)
    monkeypatch.setattr(model, "step", lambda state, u, active=None: (state, _failed(state.q.shape[0])))
    starts, _ = _observed_starts(agent, frames)
    assert all(torch.equal(s, model.encode_frame(f)) for s, f in zip(starts, frames))
    monkeypatch.undo()
    angled = load_world_model(tiny_angle_checkpoint64)
    frames = [np.random.default_rng(i).integers(0, 255, (64, 64, 3), dtype=np.uint8) for i in range(4)]
    plain, _ = _observed_starts(MPCAgent(angled, CEM(4, 1, population=8, elites=2, iterations=1), observer_gain=0.5), frames)
    encode = angled.encode_frame
    turns = iter([0.0, 2.0, -1.0, 3.0])
    monkeypatch.setattr(angled, "encode_frame", lambda f: encode(f) + torch.tensor([2 * np.pi * next(turns)] + [0.0] * (encode(f).numel() - 1)))
    turned, _ = _observed_starts(MPCAgent(angled, CEM(4, 1, population=8, elites=2, iterations=1), observer_gain=0.5), frames)
    for a, b in zip(plain, turned):
        torch.testing.assert_close(angled.features(a), angled.features(b), atol=1e-5, rtol=0)


def test_mbrl_passes_the_observer_gain_and_the_exploration_noise_to_its_agent(model):
    from lawm_env.cli.mbrl import Config, make_mpc_agent
    from lawm_env.training.online import OnlineConfig

    agent = make_mpc_agent(Config().planner, 0.6)(model, OnlineConfig(exploration_beta=1.0))
    assert agent.observer_gain == 0.6 and make_mpc_agent(Config().planner)(model, OnlineConfig()).observer_gain == 1.0
    assert agent.noise.beta == 1.0 and agent.noise.std == OnlineConfig().exploration_noise


def _failed(batch: int):
    from lawm_env.mechanics.solver import DELInfo

    return DELInfo(torch.zeros(batch, dtype=torch.long), torch.full((batch,), float("inf")), torch.zeros(batch, dtype=torch.bool))


@pytest.mark.parametrize("gain", [0.0, -0.5, 1.5, float("nan")])
def test_mpc_observer_gain_must_be_in_the_unit_interval(model, gain):
    with pytest.raises(ValueError, match="observer gain"):
        MPCAgent(model, CEM(4, 1), observer_gain=gain)


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
             "--online.train-steps", "1", "--online.batch-size", "2", "--online.window", "4", "--online.latent-dim", "4",
             "--online.hidden", "16", "--online.channels", "8", "--online.threads", "1", "--online.device", "cpu",
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
    with pytest.raises(ValueError, match="other options"):
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
          "--out", str(tmp_path), "--threads", "1", "--device", "cpu", "--observer-gain", "0.7"])
    out = capsys.readouterr().out
    assert "MPC return" in out and "random return" in out and "plan ms/action" in out
    assert "MPC with mppi (population 8, horizon 12, 1 iteration, temperature 10, noise std 0.5)" in out
    videos = sorted(p.name for p in tmp_path.iterdir())
    assert videos == ["mpc_cartpole-swingup_seed0.gif", "mpc_cartpole-swingup_seed0.mp4"]
    assert (tmp_path / videos[1]).stat().st_size > 0


def test_online_loss_weights_reach_the_world_model_and_are_pinned(tmp_path):
    from lawm_env.training.losses import LossWeights
    from lawm_env.training.online import OnlineConfig, OnlineRun

    weighted = OnlineConfig(out=str(tmp_path / "run"), weights=LossWeights(foreground=20.0))
    assert weighted.train_config(10).weights.foreground == 20.0
    OnlineRun(weighted)
    with pytest.raises(ValueError, match="weights"):
        OnlineRun(OnlineConfig(out=str(tmp_path / "run")))
    plain = OnlineConfig(out=str(tmp_path / "old"))
    OnlineRun(plain)
    options = json.loads((tmp_path / "old" / "options.json").read_text())
    del options["weights"]  # as a run recorded before the option existed
    (tmp_path / "old" / "options.json").write_text(json.dumps(options))
    OnlineRun(plain)
    options["weights"] = {"foreground": 0.0}  # a group recorded before a newer member
    (tmp_path / "old" / "options.json").write_text(json.dumps(options))
    OnlineRun(plain)
    with pytest.raises(ValueError, match="foreground"):
        OnlineRun(OnlineConfig(out=str(tmp_path / "old"), weights=LossWeights(foreground=20.0)))
    del options["substeps"]  # a run recorded before substeps: it had one
    (tmp_path / "old" / "options.json").write_text(json.dumps(options))
    OnlineRun(plain)
    assert OnlineConfig(out=str(tmp_path / "sub"), substeps=2).train_config(10).model_config(1, 64).substeps == 2
    with pytest.raises(ValueError, match="substeps"):
        OnlineRun(OnlineConfig(out=str(tmp_path / "old"), substeps=2))
    added = {"seed_coast": {"seed_coast": 0.5}, "seed_beta": {"seed_beta": 1.0}, "exploration_beta": {"exploration_beta": 1.0},
             "init": {"init": "default"}, "seed_center": {"seed_center": (1.0, 0.3)}, "seed_data": {"seed_data": "data"},
             "horizon_start": {"horizon_start": 12}}
    for key, other in added.items():  # a run recorded before the option existed had its neutral value
        del options[key]
        (tmp_path / "old" / "options.json").write_text(json.dumps(options))
        OnlineRun(plain)
        with pytest.raises(ValueError, match=key):
            OnlineRun(OnlineConfig(out=str(tmp_path / "old"), **other))
    assert OnlineConfig(init="default").train_config(10).init == "default"
    assert OnlineConfig(horizon_start=12).train_config(10).horizon_start == 12


def test_mbrl_seed_episodes_coast_when_asked(tmp_path):
    from lawm_env.cli import main

    out = tmp_path / "run"
    main(["mbrl", "--online.out", str(out), "--online.iterations", "0", *TINY_LOOP, "--online.seed-episodes", "3",
          "--online.episode-steps", "12", "--online.seed-coast", "1"])
    episodes = load_episodes(out / "data")
    assert len(episodes) == 3 and all(np.all(ep.actions[6:] == 0.0) for ep in episodes)
    with pytest.raises(ValueError, match="seed_coast"):
        main(["mbrl", "--online.out", str(tmp_path / "bad"), *TINY_LOOP, "--online.seed-coast", "2"])


def test_mbrl_seed_episodes_draw_colored_noise_when_asked(tmp_path):
    from lawm_env.cli import main
    from lawm_env.data.exploration import RandomActions

    out = tmp_path / "run"
    main(["mbrl", "--online.out", str(out), "--online.iterations", "0", *TINY_LOOP, "--online.seed-episodes", "2",
          "--online.episode-steps", "12", "--online.seed-beta", "1"])
    pink = RandomActions(beta=1.0)
    for index, episode in enumerate(load_episodes(out / "data")):
        assert np.array_equal(episode.actions, pink.sample(np.random.default_rng(episode_seed(0, index)), 12, 1))
    assert json.loads((out / "options.json").read_text())["seed_beta"] == 1.0
    with pytest.raises(ValueError, match="seed_beta"):
        main(["mbrl", "--online.out", str(tmp_path / "bad"), *TINY_LOOP, "--online.seed-beta", "-1"])
    with pytest.raises(ValueError, match="exploration_beta"):
        main(["mbrl", "--online.out", str(tmp_path / "bad"), *TINY_LOOP, "--online.exploration-beta", "5"])
    assert not (tmp_path / "bad").exists()


def test_mbrl_seed_episodes_are_centred_when_asked(tmp_path):
    from lawm_env.cli import main
    from lawm_env.data.exploration import RandomActions

    out = tmp_path / "run"
    main(["mbrl", "--online.out", str(out), "--online.iterations", "0", *TINY_LOOP, "--online.seed-episodes", "2",
          "--online.episode-steps", "12", "--online.seed-beta", "1", "--online.seed-center", "1", "0.3"])
    centred = RandomActions(beta=1.0, center=(1.0, 0.3))
    for index, episode in enumerate(load_episodes(out / "data")):
        act = centred.actions(np.random.default_rng(episode_seed(0, index)), 12, 1, (0, 3))
        expected = [act(frame, state) for frame, state in zip(episode.obs[:-1], episode.states[:-1])]
        np.testing.assert_allclose(episode.actions, np.asarray(expected, dtype=np.float32).reshape(12, 1), atol=1e-6)
    assert json.loads((out / "options.json").read_text())["seed_center"] == [1.0, 0.3]
    main(["mbrl", "--online.out", str(out), "--online.iterations", "0", *TINY_LOOP, "--online.seed-episodes", "2",
          "--online.episode-steps", "12", "--online.seed-beta", "1", "--online.seed-center", "1", "0.3"])  # resumes
    for bad, task in ((["-1", "0"], "cartpole-swingup"), (["1", "0.3"], "pendulum-swingup")):
        with pytest.raises(ValueError, match="seed_center"):
            main(["mbrl", "--online.out", str(tmp_path / "bad"), *TINY_LOOP, "--online.task", task, "--online.seed-center", *bad])
    assert not (tmp_path / "bad").exists()


def test_mbrl_seed_episodes_come_from_a_collection_when_asked(tmp_path):
    from lawm_env.cli import main

    main(["collect", "--source", "dmc:cartpole-swingup", "--episodes", "3", "--steps", "6", "--out", str(tmp_path / "seed"),
          "--seed", "5"])
    loop = ["--online.out", str(tmp_path / "run"), *TINY_LOOP, "--online.seed-data", str(tmp_path / "seed"), "--online.seed-episodes", "2"]
    main(["mbrl", *loop, "--online.iterations", "1"])
    main(["mbrl", *loop, "--online.iterations", "1"])  # resumes without copying again
    collected, data = load_episodes(tmp_path / "seed"), load_episodes(tmp_path / "run" / "data")
    assert len(data) == 3
    for copied, original in zip(data[:2], collected):
        assert np.array_equal(copied.obs, original.obs) and np.array_equal(copied.actions, original.actions)
    assert [r[:3] for r in _returns(tmp_path / "run")] == [("0", "random", "6"), ("1", "random", "12"), ("2", "agent", "18")]
    for bad, match in ((["--online.seed-episodes", "4"], "episodes: 3"), (["--online.episode-steps", "8"], "steps: 6"),
                       (["--online.task", "pendulum-swingup"], "source")):
        with pytest.raises(ValueError, match=match):
            main(["mbrl", *loop, "--online.out", str(tmp_path / "bad"), *bad])
    with pytest.raises(ValueError, match="seed_beta only apply"):
        main(["mbrl", *loop, "--online.out", str(tmp_path / "bad"), "--online.seed-beta", "1"])
    with pytest.raises(ValueError, match="initial_train_steps >= 1"):
        main(["mbrl", *loop, "--online.out", str(tmp_path / "bad"), "--online.initial-train-steps", "0"])
    with pytest.raises(SystemExit, match="no manifest"):  # a user error: one line, exit status 2
        main(["mbrl", *loop, "--online.out", str(tmp_path / "bad"), "--online.seed-data", str(tmp_path / "nothing")])
    assert not (tmp_path / "bad").exists()


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
