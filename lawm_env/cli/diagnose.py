"""Diagnostics on a synthetic system: latent-dimension sensitivity (LaWM with d = 2, 4, 8, 16), solver
ablation (explicit separable vs implicit mechanical Lagrangian; Newton limited to 1, 2, 4, 8 iterations vs
solved to convergence, overriding max_iter at evaluation time) and the correlation of the learned latent
energy with the true energy on held-out data.

Trains small runs under ``--out``/runs (re-running resumes them), evaluates them on the same held-out
windows and writes ``latent_dim/`` and ``solver/`` reports (report.md, plots/, results.json) and
``summary.md``. Example:
``lawm diagnose --data data/pendulum --heldout data/pendulum-heldout --steps 500 --out diagnose``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from lawm_env.fileio import atomic_write


@dataclass(frozen=True)
class Config:
    data: str
    """Training collection (synthetic)."""
    heldout: str
    """Held-out collection of the same source."""
    out: str = "diagnose"
    """Output folder."""
    dims: tuple[int, ...] = (2, 4, 8, 16)
    """Latent dimensions of the sensitivity study."""
    max_iters: tuple[int, ...] = (1, 2, 4, 8)
    """Newton iteration limits of the solver ablation (solving to convergence is always added)."""
    latent_dim: int = 8
    """Latent dimension of the solver ablation's runs."""
    steps: int = 500
    """Training steps of every run."""
    batch_size: int = 16
    """Training windows per step."""
    window: int = 16
    """Steps per training window."""
    horizon_end: int = 12
    """Training open-loop horizon (reached after half the steps)."""
    hidden: int = 128
    """Hidden width of the Lagrangian networks and heads."""
    channels: int = 16
    """Channels of the first convolution."""
    horizon: int = 0
    """Evaluation steps (0: 10x horizon_end, capped by the held-out episodes)."""
    windows: int = 16
    """Held-out windows evaluated."""
    seed: int = 0
    """Training seed."""
    threads: int = 0
    """CPU threads for torch (0: torch's default)."""
    progress: bool = True
    """Show training progress bars."""


def run(config: Config) -> None:
    from lawm_env.evaluation.diagnostics import energy_correlations, latent_dim_study, solver_study
    from lawm_env.evaluation.evaluate import window_steps
    from lawm_env.evaluation.heldout import load_windows, longest_episode
    from lawm_env.evaluation.report import default_horizons, write_report
    from lawm_env.training.trainer import TrainConfig

    if config.threads > 0:
        torch.set_num_threads(config.threads)
    out = Path(config.out)
    horizon = min(config.horizon or 10 * config.horizon_end, longest_episode(config.heldout) - window_steps(0))
    windows = load_windows(config.heldout, window_steps(horizon), config.windows)
    base = TrainConfig(data=config.data, steps=config.steps, batch_size=config.batch_size, window=config.window,
                       horizon_end=config.horizon_end, horizon_ramp_steps=max(1, config.steps // 2), hidden=config.hidden,
                       channels=config.channels, latent_dim=config.latent_dim, seed=config.seed, threads=config.threads,
                       video_every=0, device="cpu", progress=config.progress)
    meta = {"data": config.data, "heldout": config.heldout, "source": windows.source, "windows": len(windows),
            "horizon": horizon, "training steps": config.steps, "training horizon": config.horizon_end}
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
