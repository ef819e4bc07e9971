"""Model-predictive control in the real pixel task with a trained world model (the embedded default unless
--checkpoint is given): the return beside a uniform-random policy's on the same seeds, the planning time per
action, and videos (MP4 and GIF) of the real frames beside the model's imagined plans."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from lawm_env.checkpoint import read_checkpoint
from lawm_env.model.io import load_world_model, model_dir, model_metadata
from planners.config import PlannerConfig


@dataclass(frozen=True)
class Config:
    checkpoint: str | None = None
    """Model checkpoint directory (default: the embedded cartpole-swingup LaWM)."""
    task: str | None = None
    """dm-control task (default: the model's training task)."""
    episodes: int = 1
    """Episodes for MPC and for the random policy (seeds seed, seed+1, ...)."""
    steps: int = 0
    """Agent steps per episode (0: the task's episode length)."""
    seed: int = 0
    """First episode seed (also seeds the planner)."""
    planner: PlannerConfig = field(default_factory=lambda: PlannerConfig.closed_loop("mppi"))
    """Planner and budget (the demo's default budget keeps an episode to a few minutes on 2 CPU cores; MPPI
    plans better than CEM through the embedded default, see its model card)."""
    observer_gain: float = 1.0
    """Weight of the encoding against the model's one-step prediction of the latent the plan starts from
    (1: the encoding as is; see planners.mpc.MPCAgent)."""
    out: str = "runs/demo"
    """Folder for the videos ('' for none)."""
    device: str = "auto"
    """'auto', 'cpu' or 'cuda'."""
    threads: int = 0
    """CPU threads for torch (0: torch's default)."""


def run(config: Config) -> None:
    from lawm_env.data.dmc import get_task
    from planners.demo import run_demo

    if config.threads > 0:
        torch.set_num_threads(config.threads)
    path = model_dir(config.checkpoint)
    model, metadata = load_world_model(path, config.device), model_metadata(path)
    source = str(metadata.get("data_source", ""))
    task = config.task or (source.split(":", 1)[1] if source.startswith("dmc:") else None)
    if task is None:
        raise SystemExit(f"lawm demo: the model was trained on {source or 'unknown data'}, not a dm-control task; pass --task")
    steps = config.steps or int(metadata.get("episode_steps", 0)) or get_task(task).episode_steps
    seeds = [config.seed + i for i in range(config.episodes)]
    print(f"MPC with {config.planner.describe()} through {path} ({model.config.transition}, step {read_checkpoint(path).step}) "
          f"in {task}, {steps} steps per episode")
    report = run_demo(model, task, seeds, steps, config.planner, Path(config.out) if config.out else None, observer_gain=config.observer_gain)
    print(report.table())
    for video in report.videos:
        print(f"video: {video}")
