"""lawm study: the synthetic-suite comparison of LaWM and its baseline, end to end on a tiny budget, its resumption,
and the summary's verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lawm_env.cli import main
from lawm_env.evaluation.evaluate import Evaluation
from lawm_env.evaluation.study import StudyPlan, summarize, summary_markdown
from lawm_env.training.trainer import TrainConfig, TrainRun

TINY = ["--episodes", "3", "--heldout-episodes", "2", "--image-size", "32", "--steps", "2",
        "--model.latent-dim", "2", "--model.hidden", "16", "--model.channels", "8", "--horizon-end", "2",
        "--horizon-ramp-steps", "2", "--batch-size", "2", "--window", "6", "--horizon", "13", "--windows", "2",
        "--threads", "1", "--device", "cpu", "--no-progress"]


def test_study_runs_every_stage_writes_the_summary_and_resumes(tmp_path, capsys):
    out = tmp_path / "study"
    main(["study", "--out", str(out), "--systems", "spring", *TINY])
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["systems"]) == ["spring"] and summary["steps"] == [1, 2, 13]
    table = summary["systems"]["spring"]["table"]
    assert set(table["psnr"]) == {"LaWM", "baseline", "truth"} and table["psnr"]["truth"]["13"] > 90
    assert table["position_error_scene"]["truth"]["1"] < 0.02  # the truth localizes the object
    assert summary["budget"]["train_steps"] == 2 and summary["budget"]["train"]["model"]["latent_dim"] == 2
    assert summary["budget"]["episode_steps"] == 16  # as long as the held-out episodes: 13 steps, the pair, 2 more
    for transition, steps in (("lawm", 2), ("mlp", 2)):
        meta = json.loads((out / "runs" / "spring" / transition / "checkpoint" / "checkpoint.json").read_text())
        assert meta["step"] == steps and meta["config"]["model"]["transition"] == transition
    assert (out / "reports" / "spring" / "plots" / "psnr.png").is_file()
    assert (out / "plots" / "position_error_scene.png").is_file() and (out / "plots" / "energy_drift.png").is_file()
    stages = json.loads((out / "runs" / "spring" / "timings.json").read_text())
    assert set(stages) == {"collect", "train lawm", "train mlp", "evaluate"}
    text = (out / "summary.md").read_text()
    assert "## spring" in text and "position error (scene widths)" in text and "of 1**" in text
    glance = next(line for line in text.splitlines() if line.startswith("| spring |"))
    assert glance.count(" / ") >= 4 and glance.endswith(("yes |", "no |"))  # LaWM / baseline cells, then the verdict
    report = out / "reports" / "spring" / "results.json"
    stamp = report.stat().st_mtime_ns
    capsys.readouterr()
    main(["study", "--out", str(out), "--systems", "spring", *TINY])  # resumes: nothing trained or evaluated again
    assert report.stat().st_mtime_ns == stamp and "evaluate" not in capsys.readouterr().out


def test_study_refuses_an_unknown_system_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["study", "--out", str(tmp_path), "--systems", "pendulum", "spirng", *TINY])
    assert stop.value.code == 2 and "spirng" in capsys.readouterr().err and not (tmp_path / "data").exists()


def _evaluation(label: str, position: float, energy: float) -> Evaluation:
    series = {"position_error_scene": np.full(10, position), "energy_error": np.full(10, energy), "psnr": np.full(10, 20.0)}
    return Evaluation(label, series, {"invariance_score_energy": 0.99})


def test_summary_counts_the_systems_where_lawm_wins_on_both_position_and_energy():
    plan = StudyPlan(Path("."), ["a", "b", "c"], 1, 1, 1, 32, TrainRun(data="", train=TrainConfig(horizon_end=2)), 8, 1, "cpu")
    results = {
        "pendulum": [_evaluation("LaWM", 0.01, 0.05), _evaluation("baseline", 0.02, 0.10), _evaluation("truth", 0.0, 0.0)],
        "spring": [_evaluation("LaWM", 0.01, 0.20), _evaluation("baseline", 0.02, 0.10)],  # loses on energy
        "orbit": [_evaluation("LaWM", 0.03, 0.05), _evaluation("baseline", 0.02, 0.10)],  # loses on position
    }
    summary = summarize(results, plan)
    assert summary["lawm_wins_both"] == ["pendulum"] and summary["steps"] == [1, 2, 8]
    assert summary["verdicts"]["spring"] == {"position": True, "energy": False}
    assert summary["verdicts"]["orbit"] == {"position": False, "energy": True}
    assert summary["systems"]["pendulum"]["table"]["position_error_scene"]["LaWM"]["8"] == pytest.approx(0.01)
    assert summary["systems"]["pendulum"]["scalars"]["LaWM"] == {"invariance_score_energy": 0.99}
    targets = summary["targets"]
    assert targets["latent_energy_correlation"] == {"pendulum": None, "spring": None}  # none measured here
    assert targets["energy_drift"] == {} and targets["invariance_uniform"] == {}  # no drift series, no uniform motion


def test_summary_targets_read_the_drift_the_momentum_scores_and_the_energy_correlation():
    plan = StudyPlan(Path("."), ["uniform", "slope"], 1, 1, 1, 32, TrainRun(data="", train=TrainConfig(horizon_end=2)), 8, 1, "cpu")
    drift = lambda label, value, scalars: Evaluation(label, {"energy_drift": np.linspace(0, value, 10)}, scalars)  # noqa: E731
    scores = {"invariance_score_px": 0.9, "invariance_score_py": 0.8, "invariance_score_Lz": 0.7, "invariance_score_energy": 0.1}
    results = {"uniform": [drift("LaWM", 0.5, {**scores, "latent_energy_correlation": 0.3}), drift("baseline", 0.2, {})],
               "slope": [drift("LaWM", 0.5, {})]}  # dissipative: no drift target
    targets = summarize(results, plan)["targets"]
    assert targets["energy_drift"] == {"uniform": {"LaWM": pytest.approx(0.5), "baseline": pytest.approx(0.2)}}
    assert targets["invariance_uniform"] == {"LaWM": pytest.approx(0.8), "baseline": None}
    assert targets["latent_energy_correlation"] == {}
    text = summary_markdown(summarize(results, plan), {})
    assert "| relative energy drift at step 8, uniform | 0.5 | 0.2 | – | ≤ 0.05 |" in text
    assert "| invariance score of uniform motion (px, py, Lz) | 0.8 | – | – | ≥ 0.994 |" in text
