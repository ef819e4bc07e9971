"""Model-predictive control in the real pixel task through a world model, beside a random policy, with videos.

The model is the embedded default unless --checkpoint is given. It prints the return beside a uniform-random
policy's on the same seeds and the planning time per action, and writes videos (MP4 and GIF) of the real frames
beside the model's imagined plans, captioned "real", "imagined +1" and "imagined +12"."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from agents.mpc import MPCAgent
from lawm_env.checkpoint import read_checkpoint
from lawm_env.data.dmc import get_task, make_pixel_env, run_episode
from lawm_env.data.sources import dmc_task
from lawm_env.errors import UserError
from lawm_env.model import WorldModel, to_uint8
from lawm_env.model.io import load_world_model, model_dir, model_metadata
from lawm_env.training.video import side_by_side, write_video
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
    out: str = "runs/demo"
    """Folder for the videos ('' for none)."""
    device: str = "auto"
    """'auto', 'cpu' or 'cuda'."""
    threads: int = 0
    """CPU threads for torch (0: torch's default)."""


def run(config: Config) -> None:
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    path = model_dir(config.checkpoint)
    model, metadata = load_world_model(path, config.device), model_metadata(path)
    source = str(metadata.get("data_source", ""))
    task = config.task or dmc_task(source)
    if task is None:
        raise UserError(f"the model was trained on {source or 'unknown data'}, not a dm-control task; pass --task")
    episode_steps = get_task(task).episode_steps  # an unknown task fails here, before anything runs
    steps = config.steps or int(metadata.get("episode_steps", 0)) or episode_steps
    seeds = [config.seed + i for i in range(config.episodes)]
    print(f"MPC with {config.planner.describe()} through {path} ({model.config.transition}, step {read_checkpoint(path).step}) "
          f"in {task}, {steps} steps per episode")
    report = run_demo(model, task, seeds, steps, config.planner, Path(config.out) if config.out else None)
    print(report.table())
    for video in report.videos:
        print(f"video: {video}")


@dataclass
class EpisodeReport:
    """One real episode of a controller."""

    seed: int
    ret: float
    steps: int
    plan_ms: float = float("nan")
    """Mean planning time per action (NaN for the random policy)."""
    imagined_steps_per_s: float = float("nan")
    """Imagined latent steps per second of planning."""
    converged: float = float("nan")
    """Share of the imagined steps whose DEL solve converged."""


@dataclass
class DemoReport:
    """MPC against random actions on the same seeds, and where the videos went."""

    mpc: list[EpisodeReport]
    random: list[EpisodeReport]
    videos: list[Path] = field(default_factory=list)

    def table(self) -> str:
        rows = ["seed         MPC return   random return   plan ms/action   imagined steps/s   converged"]
        for m, r in zip(self.mpc, self.random):
            rows.append(f"{m.seed:<12d} {m.ret:10.1f}   {r.ret:13.1f}   {m.plan_ms:14.1f}   {m.imagined_steps_per_s:16.0f}   "
                        f"{m.converged:9.2%}")
        mean = lambda xs: float(np.mean(xs))  # noqa: E731
        rows.append(f"{'mean':<12s} {mean([m.ret for m in self.mpc]):10.1f}   {mean([r.ret for r in self.random]):13.1f}   "
                    f"{mean([m.plan_ms for m in self.mpc]):14.1f}   {mean([m.imagined_steps_per_s for m in self.mpc]):16.0f}   "
                    f"{mean([m.converged for m in self.mpc]):9.2%}")
        return "\n".join(rows)


def demo_frame(real: np.ndarray, plan: torch.Tensor, scale: int = 3) -> np.ndarray:
    """One video frame: the real frame, then the imagined frames of the plan at +1 and at the horizon's end, each
    captioned ("real", "imagined +1", "imagined +H"), enlarged ``scale`` times."""
    imagined = to_uint8(plan[[0, -1]]).cpu().numpy()
    strip = side_by_side([real, *imagined], ["real", "imagined +1", f"imagined +{plan.shape[0]}"])
    return strip.repeat(scale, axis=0).repeat(scale, axis=1)


def run_mpc_episode(env, agent: MPCAgent, seed: int, steps: int, video: list[np.ndarray] | None = None) -> EpisodeReport:
    """One closed-loop episode; appends side-by-side frames to ``video`` when given."""
    agent.reset(seed)
    agent.plan_seconds.clear()
    imagined_before, converged_before = agent.objective.imagined_steps, agent.objective.converged_steps

    def policy(frame: np.ndarray, state: np.ndarray) -> np.ndarray:
        action = agent.act(frame)
        if video is not None:
            video.append(demo_frame(frame, agent.imagined_plan()))
        return action

    episode = run_episode(env, seed, steps, policy)
    planning = float(np.sum(agent.plan_seconds))
    imagined = agent.objective.imagined_steps - imagined_before
    converged = (agent.objective.converged_steps - converged_before) / imagined if imagined else float("nan")
    return EpisodeReport(seed, float(episode.rewards.sum()), episode.steps, 1000 * planning / max(len(agent.plan_seconds), 1),
                         imagined / planning if planning > 0 else float("nan"), converged)


def run_demo(model: WorldModel, task: str, seeds: list[int], steps: int, planner: PlannerConfig, out: Path | None,
             *, video_episodes: int = 1, progress: bool = True) -> DemoReport:
    """MPC and a uniform-random policy on each seed of ``task``; videos (MP4 and GIF) of the first episodes."""
    env = make_pixel_env(task, model.config.image_size)
    device = next(model.parameters()).device
    agent = MPCAgent(model, planner.build(model.config.action_dim, seed=seeds[0], device=device))
    report = DemoReport([], [])
    try:
        for i, seed in enumerate(seeds):
            frames: list[np.ndarray] | None = [] if out is not None and i < video_episodes else None
            start = time.perf_counter()
            report.mpc.append(run_mpc_episode(env, agent, seed, steps, frames))
            report.random.append(EpisodeReport(seed, float(run_episode(env, seed, steps).rewards.sum()), steps))
            if progress:
                m = report.mpc[-1]
                print(f"seed {seed}: MPC {m.ret:.1f}, random {report.random[-1].ret:.1f}, {m.plan_ms:.0f} ms/action, {time.perf_counter() - start:.0f} s")
            if frames:
                for suffix in (".mp4", ".gif"):
                    report.videos.append(write_video(frames, out / f"mpc_{task}_seed{seed}{suffix}", fps=15))
    finally:
        env.close()
    return report
