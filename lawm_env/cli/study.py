"""LaWM against its parameter-matched baseline on the whole synthetic suite, in one command.

For every synthetic system it collects training and held-out episodes, trains LaWM and the baseline with the same
data, losses and budget, evaluates both open loop over 10 times the training horizon against the true frames,
and writes a report per system (``reports/<system>``: tables, plots, results.json) and a summary across the
systems (``summary.md``, ``summary.json``) to ``--out``. Rerunning resumes every stage. Example:
``lawm study --systems pendulum spring --steps 500 --out runs/study``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import torch
import tyro

from lawm_env.data.synthetic import SYSTEMS
from lawm_env.model import WorldModelConfig
from lawm_env.training.losses import LossWeights
from lawm_env.training.trainer import TrainConfig


@dataclass(frozen=True)
class Config:
    out: str = "runs/study"
    """Study folder (resumed when it exists)."""
    systems: tuple[str, ...] = tuple(SYSTEMS)
    """Synthetic systems to study (default: all nine)."""
    episodes: int = 64
    """Training episodes per system."""
    episode_steps: int = 0
    """Steps per training episode (0: as long as the held-out episodes; a synthetic camera frames its whole
    episode, so shorter training episodes of a travelling body are framed closer and move faster in pixels)."""
    heldout_episodes: int = 8
    """Held-out episodes per system (seeded apart from the training ones), each as long as the evaluation."""
    image_size: int = 32
    """Frame size (at 32 px a training step costs a third of one at 64 px, and the truth still localizes the
    objects within 0.5% of the scene's width)."""
    steps: int = 2000
    """Training steps of each model."""
    train: Annotated[TrainConfig, tyro.conf.arg(name="")] = field(default_factory=lambda: TrainConfig(
        model=WorldModelConfig(latent_dim=4), weights=LossWeights(foreground=20.0, latent_spread=10.0)))
    """The models (the same for LaWM and the baseline, but for the transition) and their training: the foreground
    weight found for cartpole, and the latent spread floor, without which the encoder settles on a constant q for
    a lone small body (uniform motion)."""
    horizon: int = 0
    """Open-loop evaluation steps (0: 10 times the training horizon)."""
    windows: int = 8
    """Held-out windows evaluated per system."""
    device: str = "auto"
    """'auto' (CUDA when present, else CPU), 'cpu' or 'cuda'."""
    threads: int = 0
    """CPU threads for torch (0: torch's default)."""
    progress: bool = True
    """Show training progress bars."""


def run(config: Config) -> None:
    from lawm_env.devices import get_device
    from lawm_env.errors import BadValueError
    from lawm_env.evaluation.evaluate import window_steps
    from lawm_env.evaluation.study import StudyPlan, run_study
    from lawm_env.training.trainer import TrainRun

    unknown = [s for s in config.systems if s not in SYSTEMS]
    if unknown:
        raise BadValueError(f"unknown systems {unknown}; choose from: {', '.join(SYSTEMS)}")
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    device = str(get_device(config.device))
    run = TrainRun(data="", steps=config.steps, train=config.train, device=device, threads=config.threads, video_every=0,
                   progress=config.progress)
    horizon = config.horizon or 10 * config.train.horizon_end
    plan = StudyPlan(Path(config.out), config.systems, config.episodes, config.episode_steps or window_steps(horizon),
                     config.heldout_episodes, config.image_size, run, horizon, config.windows, device)
    summary = run_study(plan)
    print(f"LaWM beats the baseline on both position and energy error at step {plan.horizon} on "
          f"{len(summary['lawm_wins_both'])} of {len(summary['systems'])} systems; summary: {Path(config.out) / 'summary.md'}")
