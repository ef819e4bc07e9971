"""The planning benchmark times CEM through LaWM and through the baseline side by side."""

from __future__ import annotations

import math

from lawm_env.bench.planning import benchmark_planning, format_planning_table
from lawm_env.cli import main


def test_planning_benchmark_rows_and_ratio(tiny_checkpoint):
    results = benchmark_planning(tiny_checkpoint, population=8, elites=2, horizon=3, iterations=2, repeats=1)
    assert [r.name for r in results] == ["CEM through LaWM", "CEM through baseline (MLP)"]
    assert all(r.seconds > 0 and math.isfinite(r.seconds) and r.evaluations == 16 for r in results)
    table = format_planning_table(results)
    assert "ratio" in table and table.splitlines()[-1].split()[-2] == "1.00"  # the baseline is the unit


def test_bench_plan_suite_from_the_command_line(tiny_checkpoint, capsys):
    main(["bench", "--suite", "plan", "--checkpoint", str(tiny_checkpoint), "--plan-population", "8", "--plan-horizon", "2",
          "--plan-iterations", "1", "--repeats", "1"])
    assert "CEM through LaWM" in capsys.readouterr().out
