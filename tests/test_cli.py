"""The ``lawm`` command line."""

from __future__ import annotations

import pytest

from lawm_env.cli import main


def test_bench_prints_ratios_side_by_side(capsys):
    main(["bench", "--batch", "64", "--dim", "4", "--hidden", "16", "--repeats", "2"])
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("(")]
    assert [line.split()[0] for line in lines] == ["(a)", "(b)", "(b)", "(c)", "(c)"]
    assert "device cpu" in out
    assert float(lines[0].split()[-3]) == 1.0  # the MLP is the reference
    assert all(float(line.split()[-3]) > 0 for line in lines)
    assert all(0 < float(line.split()[-1].rstrip("%")) <= 100 for line in lines)  # converged share beside each time


def test_unknown_command_lists_the_valid_ones(capsys):
    with pytest.raises(SystemExit, match="unknown command 'trian'.*bench"):
        main(["trian"])
    main([])
    assert "usage: lawm" in capsys.readouterr().out


def test_bench_plan_times_lawm_against_the_baseline(capsys, tiny_checkpoint):
    main(["bench", "--suite", "plan", "--checkpoint", str(tiny_checkpoint), "--planner.population", "16",
          "--planner.elites", "4", "--planner.iterations", "2", "--plan-repeats", "1", "--device", "cpu"])
    out = capsys.readouterr().out
    rows = {line.split(" (")[0]: line.split() for line in out.splitlines() if "transition)" in line}
    assert set(rows) == {"LaWM", "baseline"} and "device cpu" in out
    assert float(rows["baseline"][-3]) == 1.0 and float(rows["LaWM"][-3]) > 0
    assert float(rows["LaWM"][-2]) > 0 and float(rows["baseline"][-2]) > 0  # imagined steps per second
    assert rows["baseline"][-1] == "100.00%" and 0 < float(rows["LaWM"][-1].rstrip("%")) <= 100  # converged


def test_bench_robustness_compares_models_side_by_side(capsys, tiny_checkpoint, tmp_path):
    import re

    from conftest import make_tiny_checkpoint

    from lawm_env.data.collection import collect
    from lawm_env.data.sources import make_source

    baseline = make_tiny_checkpoint(tmp_path / "baseline", transition="mlp")
    heldout = tmp_path / "heldout"
    collect(make_source("dmc:cartpole-swingup", image_size=32), heldout, episodes=4, steps=24, seed=1, progress=False)
    main(["bench", "--suite", "robustness", "--models", str(tiny_checkpoint), str(baseline), "--heldout-data", str(heldout),
          "--long-envs", "8", "--long-steps", "30", "--device", "cpu"])
    out = capsys.readouterr().out
    rows = {parts[0]: parts[1:] for parts in (re.split(r"\s{2,}", line.strip()) for line in out.splitlines()) if len(parts) == 3}
    assert rows["figure"] == [str(tiny_checkpoint), str(baseline)]
    reached = rows["random first episodes of the vector env reaching the episode length"]
    assert re.fullmatch(r"\d+ of 100 \(\d+\.\d%\)", reached[0]) and reached[1] == "100 of 100 (100.0%)"  # the baseline never fails a solve
    ends = rows["episode ends in those 240 steps (16 if none ended early)"]
    assert int(ends[0]) >= 16 and ends[1] == "16"  # episodes of 10 steps, one autoreset step each
    # 4 held-out episodes of 24 steps give 3 windows each (stride 4); the baseline has no solve to fail
    heldout = rows["12-step open-loop rollouts from held-out windows with a failed solve"]
    assert heldout[0].endswith("of 12") and heldout[1] == "0.0% of 12"
    condition = rows["cond M(q) along them, median / 99th percentile"]
    assert condition[1] == "nan / nan" and 1 <= float(condition[0].split(" / ")[0]) <= float(condition[0].split(" / ")[1])
    assert rows["vector env N=8, env-steps/s over 30 steps / first 30"][1].endswith("x)")
