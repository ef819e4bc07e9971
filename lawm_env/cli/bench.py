"""Benchmarks of LaWM against its baseline, each printing ratios measured side by side in one run. One batched LaWM step against an
equal-size MLP step (``--suite mechanics``), and one world-model training step of LaWM against the
parameter-matched baseline (``--suite train``), and env-steps per second of the real dm-control pixel env,
LaWM-v0 and its vector env (``--suite env``), and the planning time per action through the LaWM and the
baseline transition (``--suite plan``), and where the DEL solves of one or more models fail (``--suite robustness``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from lawm_env.bench.env import benchmark_env, format_env_table
from lawm_env.bench.mechanics import benchmark_step, format_step_table
from lawm_env.bench.training import benchmark_training, format_training_table
from lawm_env.devices import get_device
from planners.config import PlannerConfig


@dataclass(frozen=True)
class Config:
    suite: Literal["mechanics", "train", "env", "plan", "robustness", "all"] = "mechanics"
    """Which benchmarks to run."""
    batch: int = 4096
    """Number of latent states stepped together."""
    dim: int = 16
    """Latent (generalized coordinate) dimension d."""
    action_dim: int = 4
    """Action dimension m."""
    hidden: int = 128
    """Hidden width of every network (MLP transition, potential, mass factor)."""
    depth: int = 2
    """Hidden layers of every network."""
    dt: float = 0.05
    """Latent time step h."""
    tol: float = 1e-5
    """Newton tolerance on the DEL residual norm."""
    repeats: int = 30
    """Timed repetitions per entry (median reported)."""
    device: str = "auto"
    """'auto' (CUDA when present, else CPU), 'cpu' or 'cuda'."""
    threads: int = 0
    """CPU threads for torch (0: torch's default)."""
    train_batch: int = 16
    """Training suite: windows per batch."""
    train_window: int = 16
    """Training suite: steps per window (the open-loop horizon is window - 1)."""
    checkpoint: str | None = None
    """Env suite: the world model to step (default: the embedded default model)."""
    env_seconds: float = 3.0
    """Env suite: seconds measured per entry."""
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    """Plan suite: the planner and its budget (default: CEM, population 500, horizon 12, 5 iterations)."""
    plan_repeats: int = 2
    """Plan suite: timed plans per start state (4 start states)."""
    models: tuple[str, ...] = ("default",)
    """Robustness suite: the world models compared side by side (model or checkpoint folders; 'default': the
    embedded one)."""
    heldout_data: str | None = None
    """Robustness suite: held-out episodes of the models' task for the open-loop failure rate (skipped without)."""
    first_envs: int = 100
    """Robustness suite: sub-environments whose first random-action episode is followed (failures near the
    solver's tolerance flip with round-off, such as the thread count: thousands give a steadier rate)."""
    long_envs: int = 1024
    """Robustness suite: sub-environments of the long vector env run."""
    long_steps: int = 1000
    """Robustness suite: steps of the long vector env run."""


def run(config: Config) -> None:
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    device = get_device(config.device)
    if config.suite in ("mechanics", "all"):
        print(f"LaWM step benchmark: batch {config.batch}, d={config.dim}, m={config.action_dim}, width {config.hidden}, "
              f"depth {config.depth}, h={config.dt}, tol {config.tol:g}, device {device}, {torch.get_num_threads()} threads")
        results = benchmark_step(config.batch, config.dim, config.action_dim, config.hidden, config.depth, config.dt,
                                 config.tol, config.repeats, device)
        print(format_step_table(results))
    if config.suite in ("train", "all"):
        print(f"\nWorld-model training step: batch {config.train_batch} windows of {config.train_window} steps, 64x64 frames, "
              f"d=8, device {device}, {torch.get_num_threads()} threads")
        print(format_training_table(benchmark_training(config.train_batch, config.train_window, device=device,
                                                       repeats=max(2, config.repeats // 6))))
    if config.suite in ("env", "all"):
        print(f"\nEnvironment throughput: device {device}, {torch.get_num_threads()} threads")
        print(format_env_table(benchmark_env(config.checkpoint, seconds=config.env_seconds, device=str(device))))
    if config.suite in ("plan", "all"):
        from lawm_env.bench.planning import benchmark_planning, format_planning_table

        p = config.planner
        print(f"\nPlanning time per action: {p.describe()}, default model, device {device}, {torch.get_num_threads()} threads")
        print(format_planning_table(benchmark_planning(config.checkpoint, p, device, repeats=config.plan_repeats)))
    if config.suite in ("robustness", "all"):
        from lawm_env.bench.robustness import benchmark_robustness, format_robustness_table

        print(f"\nWhere DEL solves fail under seeded uniform random actions: device {device}, {torch.get_num_threads()} threads")
        results = benchmark_robustness(config.models, config.heldout_data, num_envs=config.first_envs, long_envs=config.long_envs,
                                       long_steps=config.long_steps, device=str(device))
        print(format_robustness_table(results, config.long_envs, config.long_steps))
