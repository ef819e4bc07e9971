"""The evaluation pipeline: true physics from positions, held-out windows, the truth as a perfect prediction,
``lawm eval`` and ``lawm diagnose`` end to end on tiny models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lawm_env.cli import main
from lawm_env.data.collection import collect
from lawm_env.data.sources import make_source
from lawm_env.data.synthetic import generate_episode, make_system
from lawm_env.evaluation.compare import resolve_horizon
from lawm_env.evaluation.evaluate import evaluate_model
from lawm_env.evaluation.heldout import load_windows
from lawm_env.evaluation.synthetic import invariants_from_positions, kinetic_energy_scale, position_columns
from lawm_env.model.io import load_world_model
from conftest import train_run
from lawm_env.training.trainer import train


@pytest.mark.parametrize("name", ["uniform", "spring", "orbit"])
def test_kinetic_energy_scale_is_the_mean_true_kinetic_energy(name):
    system = make_system(name)
    episode = generate_episode(system, seed=3, steps=30, size=16)
    scale = kinetic_energy_scale(name, episode.states, episode.extras["params"])
    if name == "uniform":  # all its energy is kinetic, and constant
        np.testing.assert_allclose(scale, episode.energies.mean(), rtol=1e-5)
    elif name == "spring":  # E = K + ½k(x - rest)²
        mass, stiffness, rest = episode.extras["params"]
        potential = 0.5 * stiffness * (episode.states[:, 0].astype(np.float64) - rest) ** 2
        np.testing.assert_allclose(scale, (episode.energies - potential).mean(), rtol=1e-5)
    else:  # two bodies: E = K - m1 m2 / r
        m1, m2 = episode.extras["params"][:2]
        s = episode.states.astype(np.float64)
        potential = -m1 * m2 / np.hypot(s[:, 4] - s[:, 0], s[:, 5] - s[:, 1])
        np.testing.assert_allclose(scale, (episode.energies - potential).mean(), rtol=1e-4)


@pytest.mark.parametrize("name", ["pendulum", "spring", "orbit", "circular", "slope"])
def test_true_positions_give_the_true_energy(name):
    """The system's own energy function on coordinates rebuilt from positions (finite-difference velocities)
    matches the simulator's energy."""
    system = make_system(name)
    episode = generate_episode(system, seed=3, steps=60, size=16)
    positions = episode.states[:, position_columns(system)].astype(np.float64)
    inv = invariants_from_positions(name, positions, episode.extras["params"])
    scale = np.abs(episode.energies).max()
    assert np.abs(inv["energy"] - episode.energies)[2:-2].max() / scale < 2e-3
    assert np.isnan(inv["energy"][[0, 1, -2, -1]]).all()  # no velocity where the stencil does not fit
    if name == "orbit":  # conserved momentum comes out conserved
        assert np.ptp(inv["Lz"][2:-2]) < 2e-3 * np.abs(inv["Lz"][2:-2]).mean()


def test_windows_are_deterministic_and_non_overlapping(tiny_pendulum):
    windows = load_windows(tiny_pendulum, 10, 6)  # 4 episodes of 24 steps: 4 windows at step 0, then 2 at step 10
    assert windows.obs.shape[:2] == (6, 11) and windows.masks.shape[:2] == (6, 11) and windows.params.shape[0] == 6
    assert windows.system == "pendulum"
    assert not torch.equal(windows.obs[0], windows.obs[4]) and torch.equal(windows.obs[4, 0], load_windows(tiny_pendulum, 20, 1).obs[0, 10])
    with pytest.raises(ValueError, match="has 30 steps"):
        load_windows(tiny_pendulum, 30, 1)


@pytest.mark.parametrize("system", ["pendulum", "orbit"])
def test_the_truth_scores_as_a_perfect_prediction(system, tmp_path):
    """The measurements on the true frames: perfect image scores, a sub-pixel calibration floor, and energy
    from weighted pixel centroids within a few percent (the floor reported as the "truth" column)."""
    collect(make_source(f"synthetic:{system}"), tmp_path, episodes=2, steps=40, seed=0, progress=False)
    windows = load_windows(tmp_path, 40, 2)
    truth = evaluate_model(None, windows, 37, "truth")
    assert len(truth.series["psnr"]) == 39 and np.isfinite(truth.series["energy_drift"][-1])  # energy up to the last step
    assert truth.series["psnr"].min() > 90 and np.allclose(truth.series["ssim"], 1.0, atol=1e-4)
    assert np.nanmax(truth.series["background_vs_first"]) == 0 and truth.series["object_missing"].max() == 0
    camera_scale = 64 * (1 - 16 / 64) / 3.0  # pixels per world unit for a scene at most 3 units wide
    assert np.nanmax(truth.series["position_error"]) < 0.5 / camera_scale  # calibration floor below half a pixel
    widths = windows.scene_widths.numpy()
    assert widths.shape == (2,) and np.all(widths > 0)
    assert np.nanmax(truth.series["position_error_scene"]) < 0.25 / 64 / (1 - 16 / 64)  # a quarter pixel of the usable frame
    if np.allclose(widths, widths[0]):  # one camera: the fraction is the error over that width
        np.testing.assert_allclose(truth.series["position_error_scene"], truth.series["position_error"] / widths[0], rtol=1e-9)
    # binary-mask centroids give 0.073 and 0.917 on the orbit; coverage-weighted ones 0.028 and 0.967
    assert np.nanmean(truth.series["energy_error"]) < 0.04 and truth.scalars["invariance_score_energy"] > 0.95


def test_a_blank_prediction_finds_no_object(tiny_pendulum, monkeypatch):
    import lawm_env.evaluation.evaluate as ev

    windows = load_windows(tiny_pendulum, 11, 2)
    ref = ev.make_reference(windows, 12, 0.1)
    blank = ref.background[:, None].expand_as(ref.truth)
    series, _ = ev.measure_frames(blank, ref, windows, 0.1)
    assert series["object_missing"].min() == 1 and series["position_error"].isnan().all()


@pytest.fixture(scope="module")
def tiny_runs(tiny_pendulum, tmp_path_factory):
    root = tmp_path_factory.mktemp("eval-runs")
    for transition in ("lawm", "mlp"):
        train(train_run(data=str(tiny_pendulum), out=str(root / transition), transition=transition, steps=2, batch_size=2,
                           window=6, horizon_end=2, latent_dim=4, hidden=16, channels=8, video_every=0, progress=False))
    return root


def test_newton_limit_override_leaves_the_model_alone(tiny_runs, tiny_pendulum):
    model = load_world_model(tiny_runs / "lawm" / "checkpoint")
    limited = model.with_max_iter(1)
    assert limited.transition.max_iter == 1 and model.transition.max_iter == model.config.max_iter
    windows = load_windows(tiny_pendulum, 6, 2)
    assert evaluate_model(limited, windows, 3, "one").series["newton_iterations"][2:].max() <= 1
    with pytest.raises(ValueError, match="LaWM"):
        load_world_model(tiny_runs / "mlp" / "checkpoint").with_max_iter(1)


def test_lawm_eval_end_to_end(tiny_runs, tiny_pendulum, tmp_path, capsys):
    out = tmp_path / "eval"
    main(["eval", "--checkpoints", str(tiny_runs / "lawm" / "checkpoint"), str(tiny_runs / "mlp" / "checkpoint"),
          "--labels", "LaWM", "MLP", "--data", str(tiny_pendulum), "--windows", "3", "--out", str(out), "--threads", "1"])
    printed = capsys.readouterr().out
    assert "warning" not in printed and "| PSNR (dB, higher is better) | 20 |" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["meta"]["horizon"] == 20 and set(results["results"]) == {"LaWM", "MLP", "truth"}
    lawm, mlp = results["results"]["LaWM"], results["results"]["MLP"]
    assert len(lawm["series"]["psnr"]) == 22 and "del_residual" in lawm["series"] and "energy_drift" in mlp["series"]
    assert "latent_energy_correlation" in lawm["scalars"] and "latent_energy_correlation" not in mlp["scalars"]
    assert "probe_state_error" in lawm["series"]  # probe fitted on the training collection
    report = (out / "report.md").read_text()
    assert "| metric | step | LaWM | MLP | truth |" in report and "| DEL residual | 20 |" in report
    assert (out / "plots" / "psnr.png").stat().st_size > 1000 and (out / "plots" / "energy_drift.png").exists()


def test_horizon_defaults_to_ten_training_horizons_capped_by_the_episodes(tiny_runs, tiny_pendulum, capsys):
    checkpoints = [tiny_runs / "lawm" / "checkpoint"]
    assert resolve_horizon(0, checkpoints, tiny_pendulum) == 20  # trained up to horizon 2
    assert resolve_horizon(100, checkpoints, tiny_pendulum) == 21  # 24 steps: the first pair, 21, and 2 for velocities
    assert "horizon 100 needs episodes of 103 steps" in capsys.readouterr().out


def test_lawm_diagnose_end_to_end(tiny_pendulum, tmp_path, capsys):
    out = tmp_path / "diag"
    main(["diagnose", "--data", str(tiny_pendulum), "--heldout", str(tiny_pendulum), "--out", str(out), "--dims", "2",
          "--max-iters", "1", "--model.latent-dim", "2", "--steps", "1", "--batch-size", "2", "--window", "6",
          "--horizon-end", "2", "--model.hidden", "16", "--model.channels", "8", "--windows", "2", "--horizon", "8",
          "--no-progress"])
    summary = (out / "summary.md").read_text()
    assert "| d=2 |" in summary and "| separable (explicit) |" in summary
    solver = json.loads((out / "solver" / "results.json").read_text())["results"]
    assert set(solver) == {"separable (explicit)", "mechanical, Newton ≤ 1", "mechanical, converged"}
    assert max(solver["mechanical, Newton ≤ 1"]["series"]["newton_iterations"][2:]) <= 1
    assert (out / "latent_dim" / "report.md").exists()


def test_open_loop_quality_scores_the_right_frames(tiny_pendulum):
    """A predictor returning the true future frames scores perfectly at every horizon, one a step late does
    not; repeating the last frame does worse on the moving pixels than on whole frames; the model path runs."""
    from lawm_env.evaluation.open_loop import model_predictor, open_loop_psnr, open_loop_quality, repeat_last_frame
    from lawm_env.training.losses import frames_as_targets

    horizons = (1, 3, 6)
    oracle = open_loop_quality(lambda obs, a, hs: frames_as_targets(obs[:, [h + 1 for h in hs]]), tiny_pendulum, horizons, windows=8)
    late = open_loop_quality(lambda obs, a, hs: frames_as_targets(obs[:, [h for h in hs]]), tiny_pendulum, horizons, windows=8)
    assert all(oracle.frame[h] > 90 and oracle.moving[h] > 90 for h in horizons)
    assert all(late.moving[h] < 40 for h in horizons)
    still = open_loop_quality(repeat_last_frame, tiny_pendulum, horizons, windows=8)
    assert all(still.moving[h] < still.frame[h] for h in horizons)
    from lawm_env.model import WorldModel, WorldModelConfig

    model = WorldModel(WorldModelConfig(action_dim=0, latent_dim=4, hidden=16, channels=4, image_size=32)).eval()
    scores = open_loop_quality(model_predictor(model), tiny_pendulum, horizons, windows=8)
    assert scores.frame == open_loop_psnr(model, tiny_pendulum, horizons, windows=8)
    assert all(np.isfinite(scores.moving[h]) for h in horizons)
