"""The synthetic-suite study: for each physics system, the same data, losses and budget for LaWM and its
parameter-matched baseline, both evaluated open loop over a long horizon on held-out episodes against the truth,
and one summary of the seed paper's claim across the systems.

Layout of a study folder: ``data/<system>/{train,heldout}`` (collections), ``runs/<system>/{lawm,mlp}`` (training
runs, and ``timings.json``: seconds per stage), ``reports/<system>`` (``lawm eval``'s report: tables, plots,
results.json), ``summary.md`` / ``summary.json`` and ``plots/<metric>.png`` (a panel per system). Every stage
resumes: collections and runs continue where they stopped, a report is rewritten only when it is missing. A
system's files are its own, so several processes may study different systems into one folder at once; a last run
over all of them writes the whole summary.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from lawm_env.data.collection import collect
from lawm_env.data.sources import make_source
from lawm_env.data.synthetic import make_system
from lawm_env.evaluation.compare import compare_checkpoints
from lawm_env.evaluation.evaluate import Evaluation, window_steps
from lawm_env.evaluation.report import plot_grid
from lawm_env.evaluation.synthetic import MOMENTUM_INVARIANTS
from lawm_env.fileio import atomic_write
from lawm_env.training.trainer import CHECKPOINT_DIR, TrainRun, train

MODELS = {"LaWM": "lawm", "baseline": "mlp"}
"""Report label -> transition."""

TABLE = (
    ("psnr", "PSNR (dB)", True),
    ("ssim", "SSIM", True),
    ("position_error_scene", "position error (scene widths)", False),
    ("object_missing", "frames without the object", False),
    ("energy_error", "energy error", False),
    ("energy_drift", "energy drift", False),
    ("background_vs_first", "background change", False),
    ("jerk", "jerk", False),
    ("not_converged", "failed DEL solves", False),
)
"""Series in the summary: name, heading, higher is better."""

LABELS = (*MODELS, "truth")
"""Columns of the summary's tables."""

ENERGY_CORRELATION_SYSTEMS = ("pendulum", "spring")
"""Systems whose learned latent energy the targets compare with the true energy."""


@dataclass(frozen=True)
class StudyPlan:
    """What the study runs for every system."""

    root: Path
    systems: Sequence[str]
    episodes: int
    episode_steps: int
    heldout_episodes: int
    image_size: int
    run: TrainRun
    """The training run of each model (its data and out are set per system and transition)."""
    horizon: int
    windows: int
    device: str


def run_study(plan: StudyPlan, log: Callable[[str], None] = print) -> dict:
    """Run (or resume) every stage for every system; write and return the summary."""
    timings: dict[str, dict[str, float]] = {}
    results: dict[str, list[Evaluation]] = {}
    for system in plan.systems:
        make_system(system)  # an unknown name fails before anything runs
        timings_path = plan.root / "runs" / system / "timings.json"
        stages = timings[system] = json.loads(timings_path.read_text()) if timings_path.exists() else {}
        record = lambda: atomic_write(timings_path, lambda f: f.write(json.dumps(stages, indent=1).encode()))  # noqa: E731
        data, heldout = plan.root / "data" / system / "train", plan.root / "data" / system / "heldout"
        source = make_source(f"synthetic:{system}", plan.image_size)
        _timed(stages, "collect", log, system, lambda: (
            collect(source, data, plan.episodes, plan.episode_steps, seed=0, progress=False),
            collect(source, heldout, plan.heldout_episodes, window_steps(plan.horizon), seed=1, progress=False)))
        checkpoints = []
        for label, transition in MODELS.items():
            out = plan.root / "runs" / system / transition
            model = replace(plan.run.train.model, transition=transition)
            run = replace(plan.run, data=str(data), out=str(out), train=replace(plan.run.train, model=model))
            _timed(stages, f"train {transition}", log, system, lambda run=run: train(run))
            record()
            checkpoints.append(out / CHECKPOINT_DIR)
        report = plan.root / "reports" / system
        if not (report / "results.json").exists():
            _timed(stages, "evaluate", log, system, lambda: compare_checkpoints(
                checkpoints, list(MODELS), heldout, report, horizon=plan.horizon, windows=plan.windows, device=plan.device))
        results[system] = load_results(report / "results.json")
        record()
    summary = summarize(results, plan)
    atomic_write(plan.root / "summary.json", lambda f: f.write(json.dumps(summary, indent=1).encode()))
    atomic_write(plan.root / "summary.md", lambda f: f.write(summary_markdown(summary, timings).encode()))
    plot_grid(results, [name for name, _, _ in TABLE if name != "not_converged"], plan.root / "plots")
    return summary


def _timed(stages: dict, name: str, log: Callable[[str], None], system: str, work: Callable[[], object]) -> None:
    """Run ``work`` and add its seconds to ``stages[name]`` (a resumed stage adds what it took this time)."""
    start = time.perf_counter()
    log(f"{system}: {name} ...")
    work()
    seconds = time.perf_counter() - start
    stages[name] = stages.get(name, 0.0) + seconds
    log(f"{system}: {name} done in {seconds:.0f} s")


def load_results(path: Path) -> list[Evaluation]:
    """The evaluations of a report's ``results.json`` (JSON nulls back to NaN)."""
    data = json.loads(path.read_text())["results"]
    nan = lambda v: float("nan") if v is None else float(v)  # noqa: E731
    return [Evaluation(label, {k: np.array([nan(x) for x in v]) for k, v in r["series"].items()},
                       {k: nan(v) for k, v in r["scalars"].items()}) for label, r in data.items()]


def summary_steps(plan: StudyPlan) -> list[int]:
    """Prediction steps of the summary: 1, the training horizon, and the longest."""
    return sorted({1, plan.run.train.horizon_end, plan.horizon})


def summarize(results: dict[str, list[Evaluation]], plan: StudyPlan) -> dict:
    """Per system, the table's series for LaWM, the baseline and the truth at ``summary_steps``, the invariance
    scores and the latent energy correlation; across systems, the claim's counts."""
    steps = summary_steps(plan)
    systems = {}
    for system, evaluations in results.items():
        by_label = {e.label: e for e in evaluations}
        table = {name: {label: {str(k): _finite(e.at(name, k)) for k in steps} for label, e in by_label.items() if name in e.series}
                 for name, _, _ in TABLE}
        scalars = {label: {k: _finite(v) for k, v in e.scalars.items() if k.startswith(("invariance_score", "latent_energy_correlation"))}
                   for label, e in by_label.items()}
        systems[system] = {"conservative": make_system(system).conservative, "table": table, "scalars": scalars}
    longest = str(plan.horizon)

    def beats(system: str, name: str) -> bool | None:
        cell = systems[system]["table"].get(name, {})
        lawm, base = cell.get("LaWM", {}).get(longest), cell.get("baseline", {}).get(longest)
        return None if lawm is None or base is None else lawm < base

    verdicts = {s: {"position": beats(s, "position_error_scene"), "energy": beats(s, "energy_error")} for s in systems}
    wins = [s for s, v in verdicts.items() if v["position"] and v["energy"]]
    drift = {s: {label: v.get(longest) for label, v in e["table"].get("energy_drift", {}).items()}
             for s, e in systems.items() if e["conservative"] and e["table"].get("energy_drift")}
    uniform = systems.get("uniform", {}).get("scalars", {})
    momentum = {label: _mean([v.get(f"invariance_score_{c}") for c in MOMENTUM_INVARIANTS["uniform"]]) for label, v in uniform.items()}
    correlation = {s: systems[s]["scalars"].get("LaWM", {}).get("latent_energy_correlation") for s in ENERGY_CORRELATION_SYSTEMS if s in systems}
    targets = {"energy_drift": drift, "invariance_uniform": momentum, "latent_energy_correlation": correlation}
    budget = {"episodes": plan.episodes, "episode_steps": plan.episode_steps, "heldout_episodes": plan.heldout_episodes,
              "image_size": plan.image_size, "train_steps": plan.run.steps, "horizon": plan.horizon, "windows": plan.windows,
              "train": asdict(plan.run.train)}
    return {"steps": steps, "budget": budget, "systems": systems, "verdicts": verdicts, "lawm_wins_both": wins, "targets": targets}


def summary_markdown(summary: dict, timings: dict) -> str:
    """The summary as markdown: the claim's count, its targets, one row per system, then one table per system and
    the seconds per stage."""
    steps = summary["steps"]
    lines = ["# LaWM against its baseline on the synthetic suite", "",
             f"Systems where LaWM beats the baseline on both position error and energy error at step {steps[-1]}: "
             f"**{len(summary['lawm_wins_both'])} of {len(summary['systems'])}** ({', '.join(summary['lawm_wins_both']) or 'none'}).", "",
             "Budget: " + ", ".join(f"{k} {v}" for k, v in summary["budget"].items() if k != "train") + ".", ""]
    train = summary["budget"].get("train")
    if train:
        weights = ", ".join(f"{k} {v:g}" for k, v in train["weights"].items() if v)
        lines += [f"Models: latent dimension {train['model']['latent_dim']}, width {train['model']['hidden']}, batch "
                  f"{train['batch_size']} x {train['window']}, horizon {train['horizon_start']} to {train['horizon_end']} over "
                  f"{train['horizon_ramp_steps']} steps, loss weights: {weights}.", ""]
    lines += _targets_markdown(summary) + _glance_markdown(summary)
    for system, entry in summary["systems"].items():
        lines += [f"## {system}" + ("" if entry["conservative"] else " (dissipative)"), ""]
        lines.append("| metric | step | " + " | ".join(LABELS) + " |")
        lines.append("|---|---:|" + "---:|" * len(LABELS))
        for name, heading, _ in TABLE:
            cells = entry["table"].get(name)
            if not cells:
                continue
            for k in steps:
                lines.append(f"| {heading} | {k} | " + " | ".join(_cell(cells.get(lab, {}).get(str(k))) for lab in LABELS) + " |")
        names = sorted({n for values in entry["scalars"].values() for n in values})
        for n in names:
            lines.append(f"| {n.replace('_', ' ')} | – | " + " | ".join(_cell(entry["scalars"].get(lab, {}).get(n)) for lab in LABELS) + " |")
        seconds = timings.get(system, {})
        lines += ["", "Seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()) + f"; report: reports/{system}/report.md", ""]
    return "\n".join(lines)


def _targets_markdown(summary: dict) -> list[str]:
    """The claim's targets as a table: the energy drift of each conservative system at the longest step, the
    invariance score of uniform motion (mean over its momentum components) and the latent energy correlation."""
    targets, longest = summary["targets"], summary["steps"][-1]
    lines = ["| target | LaWM | baseline | truth | goal |", "|---|---:|---:|---:|---:|"]
    for system, cells in targets["energy_drift"].items():
        lines.append(f"| relative energy drift at step {longest}, {system} | "
                     + _cells(cells) + " | ≤ 0.05 |")
    if targets["invariance_uniform"]:
        cells = targets["invariance_uniform"]
        lines.append("| invariance score of uniform motion (px, py, Lz) | "
                     + _cells(cells) + " | ≥ 0.994 |")
    for system, value in targets["latent_energy_correlation"].items():
        lines.append(f"| latent / true energy correlation, {system} | {_cell(value)} | – | – | ≥ 0.9 |")
    return lines + [""] if len(lines) > 2 else []


GLANCE = (("position_error_scene", "first"), ("position_error_scene", "last"), ("energy_error", "last"),
          ("energy_drift", "last"), ("background_vs_first", "last"))
"""Cells of the one-row-per-system table: a series at the first or the longest step."""


def _glance_markdown(summary: dict) -> list[str]:
    """One row per system, LaWM / baseline in each cell: position error at the first and the longest step, energy
    error, energy drift and background change at the longest, and who wins on position and energy."""
    steps, headings = summary["steps"], {name: heading for name, heading, _ in TABLE}
    header = [f"{headings[name]}, step {steps[0] if at == 'first' else steps[-1]}" for name, at in GLANCE]
    lines = ["LaWM / baseline:", "", "| system | " + " | ".join(header) + " | LaWM ahead on position, energy |",
             "|---|" + "---:|" * len(GLANCE) + "---|"]
    for system, entry in summary["systems"].items():
        cells = []
        for name, at in GLANCE:
            values = entry["table"].get(name, {})
            step = str(steps[0] if at == "first" else steps[-1])
            cells.append(_cells({label: values.get(label, {}).get(step) for label in MODELS}, MODELS, " / ") if values else "–")
        verdict = summary["verdicts"][system]
        won = ", ".join("–" if verdict[k] is None else ("yes" if verdict[k] else "no") for k in ("position", "energy"))
        lines.append(f"| {system} | " + " | ".join(cells) + f" | {won} |")
    return lines + [""]


def _cells(values: dict[str, float | None], labels: Sequence[str] = LABELS, separator: str = " | ") -> str:
    """The formatted ``values`` of ``labels``, in that order ("–" for a missing one), joined by ``separator``."""
    return separator.join(_cell(values.get(label)) for label in labels)


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _finite(value: float) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"

