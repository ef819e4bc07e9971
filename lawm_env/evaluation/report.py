"""Evaluation results as a markdown table, PNG plots (metric against horizon, one line per model) and JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lawm_env.evaluation.evaluate import SERIES, Evaluation
from lawm_env.fileio import atomic_write


def default_horizons(horizon: int) -> list[int]:
    """Steps reported in the table: 1, 10, a quarter, half and all of ``horizon``."""
    return sorted({h for h in (1, 10, horizon // 4, horizon // 2, horizon) if 1 <= h <= horizon})


def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.3e}"


def _escape(text: str) -> str:
    """Text for a markdown table cell (pipes escaped)."""
    return text.replace("|", r"\|")


def markdown_tables(results: Sequence[Evaluation], horizons: Sequence[int]) -> str:
    """One table of every series metric at each of ``horizons`` with the results side by side, then one of
    the scalars."""
    labels = [r.label for r in results]
    lines = ["| metric | step | " + " | ".join(labels) + " |", "|---|---:|" + "---:|" * len(labels)]
    for name, (description, _) in SERIES.items():
        if not any(name in r.series for r in results):
            continue
        for h in horizons:
            cells = [_fmt(r.at(name, h)) if name in r.series else "–" for r in results]
            lines.append(f"| {_escape(description)} | {h} | " + " | ".join(cells) + " |")
    names = sorted({k for r in results for k in r.scalars})
    if names:
        lines += ["", "| scalar | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
        lines += [f"| {n} | " + " | ".join(_fmt(r.scalars.get(n, float("nan"))) for r in results) + " |" for n in names]
    return "\n".join(lines) + "\n"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_series(ax, results: Sequence[Evaluation], name: str) -> None:
    """Metric ``name`` against the prediction step on ``ax``, one line per result (the truth dashed)."""
    for r in results:
        if name in r.series:
            values = r.series[name][1:]  # frame k + 1 is prediction step k
            ax.plot(np.arange(len(values)), values, label=r.label, linestyle="--" if r.label == "truth" else "-")
    ax.set_xlabel("prediction step")


def plot_series(results: Sequence[Evaluation], out: Path) -> list[Path]:
    """One PNG per series metric in ``out``: the metric against the prediction step, one line per result."""
    return plot_grid({"": results}, list(SERIES), out)


def plot_grid(groups: dict[str, Sequence[Evaluation]], names: Sequence[str], out: Path) -> list[Path]:
    """One PNG per metric of ``names`` in ``out``, with a panel per group (e.g. per system) holding its results'
    lines; a metric no group has is skipped."""
    plt = _pyplot()
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        shown = {g: rs for g, rs in groups.items() if any(name in r.series for r in rs)}
        if not shown:
            continue
        columns = min(3, len(shown))
        rows = -(-len(shown) // columns)
        fig, axes = plt.subplots(rows, columns, figsize=(4 * columns + 2 * (columns == 1), 2.8 * rows + 0.7 * (rows == 1)), squeeze=False)
        for ax, (group, results) in zip(axes.flat, shown.items()):
            draw_series(ax, results, name)
            if group:
                ax.set_title(group, fontsize=9)
        for ax in list(axes.flat)[len(shown):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(SERIES[name][0], fontsize=10)
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(results: Sequence[Evaluation], out: str | Path, horizons: Sequence[int], meta: dict[str, Any],
                 title: str = "Open-loop evaluation") -> Path:
    """Write ``report.md``, ``results.json`` and ``plots/*.png`` to ``out``; return the report's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plots = plot_series(results, out / "plots")
    header = [f"# {title}", ""] + [f"- {k}: {v}" for k, v in meta.items()] + ["", ""]
    text = "\n".join(header) + markdown_tables(results, horizons) + "\n" + "".join(f"![{p.stem}](plots/{p.name})\n" for p in plots)
    atomic_write(out / "report.md", lambda f: f.write(text.encode()))
    clean = lambda v: None if not math.isfinite(v) else v  # noqa: E731  JSON has no NaN
    data = {"meta": meta, "horizons": list(horizons), "results": {
        r.label: {"series": {k: [clean(float(x)) for x in v] for k, v in r.series.items()},
                  "scalars": {k: clean(v) for k, v in r.scalars.items()}} for r in results}}
    atomic_write(out / "results.json", lambda f: f.write(json.dumps(data, indent=1).encode()))
    return out / "report.md"
