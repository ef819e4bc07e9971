"""Training: resume equivalence, checkpoint round trip, bad checkpoints, logs and videos, DDP with two processes."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import pytest
import torch

from lawm_env.checkpoint import CheckpointError
from lawm_env.model.io import load_world_model
from conftest import train_run
from lawm_env.training.trainer import TrainRun, train


def _config(data: Path, out: Path, **kw) -> TrainRun:
    base = dict(data=str(data), out=str(out), latent_dim=4, hidden=32, channels=8, steps=6, batch_size=4, window=8,
                horizon_start=2, horizon_end=4, horizon_ramp_steps=4, log_every=1, checkpoint_every=3, video_every=0, progress=False)
    base.update(kw)
    return train_run(**base)


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_world_model(run / "checkpoint").state_dict()


@pytest.mark.parametrize("transition", ["lawm", "mlp"])
def test_resumed_training_equals_uninterrupted_training(transition, tiny_pendulum, tmp_path):
    straight = train(_config(tiny_pendulum, tmp_path / "straight", transition=transition))
    train(_config(tiny_pendulum, tmp_path / "resumed", transition=transition, steps=3))
    resumed = train(_config(tiny_pendulum, tmp_path / "resumed", transition=transition, steps=6))
    assert straight["step"] == resumed["step"] == 6
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rows = list(csv.DictReader((tmp_path / "resumed" / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]  # no step logged twice across the resume


def test_checkpoint_round_trip_gives_identical_outputs(tiny_pendulum, tmp_path):
    config = _config(tiny_pendulum, tmp_path / "run", steps=2, video_every=2)
    train(config)
    first, second = load_world_model(tmp_path / "run" / "checkpoint"), load_world_model(tmp_path / "run" / "checkpoint")
    frames = torch.randint(0, 256, (2, 2, 32, 32, 3), dtype=torch.uint8)
    with torch.no_grad():
        outputs = []
        for model in (first, second):
            q = model.encode(frames)
            _, imagined = model.rollout(model.start(q[:, 0], q[:, 1], torch.zeros(2, 0)), torch.zeros(2, 5, 0))
            outputs.append((q, model.decode(imagined.positions), imagined.rewards))
    assert all(torch.equal(x, y) for x, y in zip(*outputs))
    video = imageio.mimread(tmp_path / "run" / "videos" / "open_loop_0000002.mp4")
    assert len(video) == 9 and video[0].shape == (32, 64, 3)  # window + 1 frames, true | predicted


def test_bad_checkpoints_give_clear_errors(tiny_pendulum, tmp_path):
    with pytest.raises(FileNotFoundError, match="no world model at .*nowhere"):
        load_world_model(tmp_path / "nowhere")
    run = tmp_path / "run"
    train(_config(tiny_pendulum, run, steps=1))
    with pytest.raises(CheckpointError, match="latent_dim"):
        train(_config(tiny_pendulum, run, steps=2, latent_dim=6))
    weights = run / "checkpoint" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-16] + b"\0" * 16)
    with pytest.raises(CheckpointError, match="weights.safetensors"):
        load_world_model(run / "checkpoint")


def test_distributed_training_with_two_processes(tiny_pendulum, tmp_path):
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "lawm_env.cli",
               "train", "--data", str(tiny_pendulum), "--out", str(run), "--model.latent-dim", "4", "--model.hidden", "32",
               "--model.channels", "8", "--steps", "3", "--batch-size", "2", "--window", "8", "--horizon-end", "4",
               "--video-every", "0", "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    load_world_model(run / "checkpoint")
    from lawm_env.checkpoint import read_checkpoint

    checkpoint = read_checkpoint(run / "checkpoint")
    assert checkpoint.step == 3 and checkpoint.metadata["world_size"] == 2
    assert '"world_size": 2' in done.stdout


def test_single_non_finite_updates_are_skipped_and_persistent_ones_stop(tiny_pendulum, tmp_path, monkeypatch):
    import lawm_env.training.trainer as trainer
    from lawm_env.training.losses import world_model_losses

    calls = {"n": 0}

    def sometimes_nan(model, obs, actions, rewards, horizon, weights):
        total, report = world_model_losses(model, obs, actions, rewards, horizon, weights)
        calls["n"] += 1
        return (total * float("nan") if calls["n"] == 2 else total), report

    monkeypatch.setattr(trainer, "world_model_losses", sometimes_nan)
    summary = train(_config(tiny_pendulum, tmp_path / "one", steps=4))
    assert summary["step"] == 4
    rows = list(csv.DictReader((tmp_path / "one" / "metrics.csv").open()))
    assert rows[-1]["skipped_updates"] == "1"
    assert all(torch.isfinite(v).all() for v in _weights(tmp_path / "one").values())

    monkeypatch.setattr(trainer, "world_model_losses", lambda *a: (lambda t, r: (t * float("nan"), r))(*world_model_losses(*a)))
    with pytest.raises(FloatingPointError, match="10 non-finite gradients in a row"):
        train(_config(tiny_pendulum, tmp_path / "always", steps=20))


def test_masked_steps_with_nan_do_not_reach_the_loss_or_gradient():
    """A diverged imagined step (NaN) after the first non-converged solve is masked out entirely."""
    from lawm_env.training.losses import masked_mean

    values = torch.tensor([[1.0, 3.0, float("nan")], [2.0, float("inf"), 5.0]], requires_grad=True)
    weights = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    mean = masked_mean(values, weights)
    mean.backward()
    assert float(mean.detach()) == 2.0
    assert torch.isfinite(values.grad).all() and float(values.grad[0, 2]) == 0.0
    assert float(masked_mean(values.detach(), torch.zeros(2, 3))) == 0.0


def test_moving_pixels_and_foreground_weight():
    """The mask marks exactly the pixels a moving square covers; the weight scales their error only."""
    from lawm_env.training.losses import _frame_errors, moving_pixels

    frames = torch.zeros(1, 5, 8, 8, 3)
    for t in range(5):
        frames[0, t, 2, t : t + 2] = 1.0  # a 1x2 bar sliding right
    mask = moving_pixels(frames)
    assert mask.shape == (1, 5, 8, 8, 1)
    torch.testing.assert_close(mask[..., 0], frames.amax(-1))
    error = torch.full_like(frames, 0.5)
    plain, weighted = _frame_errors(error), _frame_errors(error, 1.0 + 9.0 * mask)
    torch.testing.assert_close(weighted - plain, 9.0 * 0.25 * 3 * mask.sum(dim=(-3, -2, -1)))


@pytest.mark.parametrize("transition", ["lawm", "mlp"])
def test_latent_scale_anchor(transition, tiny_pendulum, tmp_path):
    """The anchor is (mean q² − 1)² of the encoded latents, reaches the encoder, and is off (not computed, not
    part of a run's identity) at its default 0."""
    from lawm_env.model import WorldModel, WorldModelConfig
    from lawm_env.training.losses import LossWeights, world_model_losses

    torch.manual_seed(0)
    model = WorldModel(WorldModelConfig(action_dim=1, latent_dim=4, transition=transition, hidden=16, channels=4, image_size=32))
    obs = torch.randint(0, 256, (2, 6, 32, 32, 3), dtype=torch.uint8)
    actions, rewards = torch.zeros(2, 5, 1), torch.zeros(2, 5)
    _, plain = world_model_losses(model, obs, actions, rewards, 2)
    assert "latent_scale" not in plain
    total, report = world_model_losses(model, obs, actions, rewards, 2, LossWeights(latent_scale=3.0))
    with torch.no_grad():
        expected = float((model.encode(obs).square().mean() - 1.0).square())
    assert report["latent_scale"] == pytest.approx(expected, rel=1e-5)
    with torch.no_grad():  # the drift diagnostics, logged with or without the anchor
        q = model.encode(obs)
    assert plain["latent_rms"] == pytest.approx(float(q.square().mean().sqrt()), rel=1e-5)
    if transition == "lawm":
        assert plain["log_mass"] == pytest.approx(float(model.transition.log_mass_scale(q.flatten(0, 1)).mean().detach()), rel=1e-4, abs=1e-6)
    else:
        assert "log_mass" not in plain
    assert report["total"] == pytest.approx(plain["total"] + 3.0 * expected, rel=1e-4)
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    assert _config(tiny_pendulum, tmp_path).train.identity() != _config(tiny_pendulum, tmp_path, weights=LossWeights(latent_scale=1.0)).train.identity()


def test_init_starts_from_another_models_weights(tiny_pendulum, tmp_path):
    source = tmp_path / "source"
    train(_config(tiny_pendulum, source, steps=3))
    train(_config(tiny_pendulum, tmp_path / "still", steps=1, lr=0.0, init=str(source / "checkpoint")))
    a, b = _weights(source), _weights(tmp_path / "still")
    assert all(torch.equal(a[k], b[k]) for k in a)  # a step of size 0 keeps the weights it started from
    tuned = tmp_path / "tuned"
    train(_config(tiny_pendulum, tuned, steps=2, init=str(source / "checkpoint")))
    train(_config(tiny_pendulum, tuned, steps=4, init=str(source / "checkpoint")))  # resumes its own weights
    straight = tmp_path / "straight"
    train(_config(tiny_pendulum, straight, steps=4, init=str(source / "checkpoint")))
    c, d = _weights(tuned), _weights(straight)
    assert all(torch.equal(c[k], d[k]) for k in c) and not all(torch.equal(a[k], c[k]) for k in a)
    with pytest.raises(CheckpointError, match="init"):  # the starting point is part of the run
        train(_config(tiny_pendulum, tuned, steps=5))


def test_init_refuses_a_model_with_other_options_and_a_missing_one(tiny_pendulum, tmp_path):
    source = tmp_path / "source"
    train(_config(tiny_pendulum, source, steps=1))
    with pytest.raises(ValueError, match="latent_dim: 4 .* vs 6 \\(asked\\)"):
        train(_config(tiny_pendulum, tmp_path / "other", latent_dim=6, init=str(source / "checkpoint")))
    assert not (tmp_path / "other" / "checkpoint").exists()
    with pytest.raises(FileNotFoundError, match="no world model at .*nowhere"):
        train(_config(tiny_pendulum, tmp_path / "missing", init=str(tmp_path / "nowhere")))
    with pytest.raises(ValueError, match="image_size: 64 .* vs 32"):  # the embedded default sees 64x64 frames
        train(_config(tiny_pendulum, tmp_path / "default", init="default"))


def test_a_run_of_another_format_is_refused_by_name(tiny_pendulum, tmp_path):
    import json

    run = tmp_path / "old"
    train(_config(tiny_pendulum, run, steps=1))
    meta_path = run / "checkpoint" / "checkpoint.json"
    meta = json.loads(meta_path.read_text())
    del meta["config"]["run_format"]  # as a run recorded by an earlier version
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="another version of lawm \\(run format 1"):
        train(_config(tiny_pendulum, run, steps=2))



def test_latent_spread_floor():
    """The floor is mean over the features of max(0, 1 − std)² over the batch's frames: 0 for latents that spread
    at least 1 in every feature, about 1 for a nearly constant q, and it pushes the encoder apart."""
    from lawm_env.model import WorldModel, WorldModelConfig
    from lawm_env.training.losses import LossWeights, world_model_losses

    torch.manual_seed(0)
    model = WorldModel(WorldModelConfig(action_dim=1, latent_dim=3, transition="mlp", hidden=16, channels=4, image_size=32))
    obs = torch.randint(0, 256, (2, 6, 32, 32, 3), dtype=torch.uint8)
    actions, rewards = torch.zeros(2, 5, 1), torch.zeros(2, 5)
    _, plain = world_model_losses(model, obs, actions, rewards, 2)
    assert "latent_spread" not in plain
    with torch.no_grad():
        spread = model.encode(obs).flatten(0, 1).std(0)
    total, report = world_model_losses(model, obs, actions, rewards, 2, LossWeights(latent_spread=2.0))
    assert report["latent_spread"] == pytest.approx(float((1 - spread).clamp(min=0).square().mean()), rel=1e-5)
    assert report["total"] == pytest.approx(plain["total"] + 2.0 * report["latent_spread"], rel=1e-4)
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    with torch.no_grad():  # latents scaled to spread 10 in every feature: no penalty
        model.encoder.head.weight.mul_(10.0 / spread.min())
        model.encoder.head.bias.zero_()
    _, wide = world_model_losses(model, obs, actions, rewards, 2, LossWeights(latent_spread=2.0))
    assert wide["latent_spread"] == 0.0
