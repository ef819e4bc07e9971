"""Diagnostics: latent-dimension sensitivity, solver ablation (explicit separable vs implicit mechanical
Lagrangian; Newton iteration limits vs solving to convergence) and whether the learned latent energy tracks
the true energy. Each study trains (or reuses, by resuming) small runs and evaluates them on the same
held-out windows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from lawm_env.evaluation.evaluate import Evaluation, evaluate_model
from lawm_env.evaluation.heldout import EvalWindows
from lawm_env.model import WorldModel
from lawm_env.model.io import load_world_model
from lawm_env.training.trainer import TrainRun, train

CONVERGED_ITERATIONS = 100
"""The Newton limit standing for "solved to convergence"."""


def train_variant(base: TrainRun, root: Path, name: str, **changes) -> WorldModel:
    """Train (or resume) ``base`` with the model options ``changes`` in ``root/name``; return the trained model."""
    config = replace(base, out=str(root / name), train=replace(base.train, model=replace(base.train.model, **changes)))
    train(config)
    return load_world_model(Path(config.out) / "checkpoint")


def latent_dim_study(base: TrainRun, root: Path, dims: Sequence[int], windows: EvalWindows, horizon: int,
                     batch_size: int = 8) -> list[Evaluation]:
    """LaWM trained with each latent dimension d in ``dims``, evaluated on ``windows``."""
    return [evaluate_model(train_variant(base, root, f"lawm-d{d}", latent_dim=d), windows, horizon, f"d={d}", batch_size)
            for d in dims]


def solver_study(base: TrainRun, root: Path, max_iters: Sequence[int], windows: EvalWindows, horizon: int,
                 batch_size: int = 8) -> list[Evaluation]:
    """The explicit (separable) and the implicit (mechanical) LaWM, the latter also with its Newton solves
    limited to each of ``max_iters`` iterations and solved to convergence."""
    separable = train_variant(base, root, "lawm-separable", lagrangian="separable")
    mechanical = train_variant(base, root, f"lawm-d{base.train.model.latent_dim}", lagrangian="mechanical")
    results = [evaluate_model(separable, windows, horizon, "separable (explicit)", batch_size)]
    for k in (*max_iters, CONVERGED_ITERATIONS):
        label = "mechanical, converged" if k == CONVERGED_ITERATIONS else f"mechanical, Newton ≤ {k}"
        results.append(evaluate_model(mechanical.with_max_iter(k), windows, horizon, label, batch_size))
    return results


def energy_correlations(results: Sequence[Evaluation]) -> str:
    """Markdown table of the correlation between learned latent energy and true energy on held-out data."""
    lines = ["| model | pooled correlation | mean per-window correlation |", "|---|---:|---:|"]
    for r in results:
        if "latent_energy_correlation" in r.scalars:
            lines.append(f"| {r.label} | {r.scalars['latent_energy_correlation']:.3f} | "
                         f"{r.scalars['latent_energy_correlation_per_window']:.3f} |")
    return "\n".join(lines) + "\n"
