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
