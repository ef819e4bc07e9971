"""Data generation throughput. Synthetic renderer frames/s and dm-control collection frames/s, one process vs several."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    systems: tuple[str, ...] = ("pendulum", "orbit", "spring")
    """Synthetic systems to time."""
    synthetic_episodes: int = 20
    """Episodes per synthetic system."""
    steps: int = 100
    """Steps per synthetic episode."""
    image_size: int = 64
    """Frame size in pixels."""
    task: str = "cartpole-swingup"
    """dm-control task to time."""
    dmc_episodes: int = 4
    """dm-control episodes per timing (a multiple of workers keeps every worker busy)."""
    dmc_steps: int = 50
    """Agent steps per dm-control episode."""
    workers: int = 0
    """Processes for the parallel dm-control timing; 0 means the number of CPU cores (at least 2)."""


def _synthetic(config: Config) -> None:
    from lawm_env.data.synthetic import generate_episode, make_system
    from lawm_env.data.synthetic.episodes import system_background
    from lawm_env.data.synthetic.render import fit_camera, render_scene

    import numpy as np

    print(f"synthetic suite, {config.synthetic_episodes} episodes x {config.steps + 1} frames at {config.image_size}px:")
    for name in config.systems:
        system = make_system(name)
        t0 = time.perf_counter()
        trajs = [system.simulate(np.random.default_rng(k), config.steps) for k in range(config.synthetic_episodes)]
        t1 = time.perf_counter()
        for traj in trajs:
            render_scene(traj.scene, fit_camera(traj.scene, config.image_size, system.min_span), system_background(system, config.image_size))
        t2 = time.perf_counter()
        for k in range(config.synthetic_episodes):
            generate_episode(system, k, config.steps, config.image_size)
        t3 = time.perf_counter()
        frames = config.synthetic_episodes * (config.steps + 1)
        print(f"  {name:16s} simulate {frames / (t1 - t0):9.0f} frames/s   render {frames / (t2 - t1):9.0f} frames/s   episode (both) {frames / (t3 - t2):9.0f} frames/s")


def _dmc(config: Config) -> None:
    from lawm_env.data.dmc import make_pixel_env, make_vector_env, run_batch, run_episode

    workers = config.workers or max(os.cpu_count() or 2, 2)
    print(f"dm-control {config.task}, {config.dmc_episodes} episodes x {config.dmc_steps} steps at {config.image_size}px (random policy):")
    rates = {}
    for n in (1, workers):
        t0 = time.perf_counter()
        env = make_pixel_env(config.task, config.image_size) if n == 1 else make_vector_env(config.task, config.image_size, n)
        t1 = time.perf_counter()
        try:
            if n == 1:
                episodes = [run_episode(env, k, config.dmc_steps) for k in range(config.dmc_episodes)]
            else:
                episodes = [e for s in range(0, config.dmc_episodes, n) for e in run_batch(env, list(range(s, min(s + n, config.dmc_episodes))), config.dmc_steps)]
        finally:
            env.close()
        t2 = time.perf_counter()
        frames = sum(e.steps + 1 for e in episodes)
        rates[n] = frames / (t2 - t1)
        label = f"{n} process{'es' if n > 1 else ''}"
        print(f"  {label:12s} {rates[n]:7.1f} frames/s  ({frames} frames in {t2 - t1:.1f} s; start-up {t1 - t0:.1f} s not counted)")
    print(f"  speed-up {workers} vs 1 process: {rates[workers] / rates[1]:.2f}x on {os.cpu_count()} CPU cores")


def run(config: Config) -> None:
    """Print frames/s for the synthetic suite and for dm-control collection, side by side."""
    _synthetic(config)
    _dmc(config)
