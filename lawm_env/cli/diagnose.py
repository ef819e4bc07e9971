"""Latent-dimension, solver and energy diagnostics of LaWM on a synthetic system. Latent-dimension sensitivity (LaWM with d = 2, 4, 8, 16), solver
ablation (explicit separable vs implicit mechanical Lagrangian; Newton limited to 1, 2, 4, 8 iterations vs
solved to convergence, overriding max_iter at evaluation time) and the correlation of the learned latent
energy with the true energy on held-out data.

Trains small runs under ``--out``/runs (re-running resumes them), evaluates them on the same held-out
windows and writes ``latent_dim/`` and ``solver/`` reports (report.md, plots/, results.json) and
``summary.md``. Example:
``lawm diagnose --data data/pendulum --heldout data/pendulum-heldout --steps 500 --out diagnose``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated
from pathlib import Path

import torch
import tyro

from lawm_env.fileio import atomic_write
from lawm_env.training.trainer import TrainConfig, TrainRun


@dataclass(frozen=True)
class Config:
    data: str
    """Training collection (synthetic)."""
    heldout: str
    """Held-out collection of the same source."""
    out: str = "diagnose"
    """Output folder."""
    steps: int = 500
    """Training steps of every run."""
    train: Annotated[TrainConfig, tyro.conf.arg(name="")] = field(default_factory=lambda: TrainConfig(horizon_ramp_steps=250))
    """The base model and its training (``--model.latent-dim`` is the solver ablation's latent dimension)."""
    dims: tuple[int, ...] = (2, 4, 8, 16)
    """Latent dimensions of the sensitivity study."""
    max_iters: tuple[int, ...] = (1, 2, 4, 8)
    """Newton iteration limits of the solver ablation (solving to convergence is always added)."""
    horizon: int = 0
    """Evaluation steps (0: 10x the training horizon, capped by the held-out episodes)."""
    windows: int = 16
    """Held-out windows evaluated."""
    threads: int = 0
    """CPU threads for torch (0: torch's default)."""
    progress: bool = True
    """Show training progress bars."""


def run(config: Config) -> None:
    from lawm_env.evaluation.diagnostics import energy_correlations, latent_dim_study, solver_study
    from lawm_env.evaluation.evaluate import window_steps
    from lawm_env.evaluation.heldout import load_windows, longest_episode
    from lawm_env.evaluation.report import default_horizons, write_report
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    out = Path(config.out)
    horizon = min(config.horizon or 10 * config.train.horizon_end, longest_episode(config.heldout) - window_steps(0))
    windows = load_windows(config.heldout, window_steps(horizon), config.windows)
    base = TrainRun(data=config.data, steps=config.steps, train=config.train, threads=config.threads, video_every=0,
                    device="cpu", progress=config.progress)
    meta = {"data": config.data, "heldout": config.heldout, "source": windows.source, "windows": len(windows),
            "horizon": horizon, "training steps": config.steps, "training horizon": config.train.horizon_end}
    horizons = default_horizons(horizon)
    dims = latent_dim_study(base, out / "runs", config.dims, windows, horizon)
    write_report(dims, out / "latent_dim", horizons, meta, "Latent dimension sensitivity (LaWM, mechanical)")
    solver = solver_study(base, out / "runs", config.max_iters, windows, horizon)
    write_report(solver, out / "solver", horizons, meta, "Solver ablation")
    summary = ("# Diagnostics\n\nLearned latent energy against the true energy (encoded held-out frames):\n\n"
               + energy_correlations(dims + solver[:1] + solver[-1:])
               + "\nReports: [latent dimension](latent_dim/report.md), [solver](solver/report.md)\n")
    atomic_write(out / "summary.md", lambda f: f.write(summary.encode()))
    print(summary)
    print(f"written to {out.resolve()}")
