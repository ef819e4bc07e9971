"""Where a world model's DEL solves fail, side by side for several models in one run: random-action first
episodes of the vector env, random-action rollouts from the model's initial states (and the conditioning of the
learned mass along them), 12-step open-loop rollouts from held-out windows, and the vector env's throughput over
a long random run against its first steps."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

import lawm_env  # noqa: F401  (registers LaWM-v0)
from lawm_env.data.storage import load_episodes
from lawm_env.envs.env import make_initial_states
from lawm_env.model import WorldModel
from lawm_env.model.io import load_world_model, model_dir, model_metadata


SHORT_RUN = 50
"""Steps of the long vector env run whose rate is the short-run reference."""


@dataclass(frozen=True)
class Robustness:
    model: str
    first_episodes: int
    """Vector env first episodes under seeded uniform random actions that reached the episode length."""
    num_envs: int
    episode_steps: int
    shortest: int
    """Length of the shortest of those first episodes."""
    rollouts_clean: float
    """Share of random-action rollouts from the env's initial states without a failed solve."""
    condition_p50: float
    condition_p99: float
    """Quantiles of cond M(q) over the configurations of those rollouts (NaN for the baseline)."""
    heldout_failed: float
    """Share of 12-step open-loop rollouts from held-out windows with a failed solve (NaN without data)."""
    heldout_windows: int
    short_rate: float
    long_rate: float
    """Vector env env-steps/s over the first ``short`` steps and over the whole long run."""
    episode_ends: int
    """Episode ends in the long run (from failed solves and the time limit)."""


def first_episodes(checkpoint: str, num_envs: int, seed: int, device: str) -> tuple[int, int, int]:
    """(first episodes reaching the episode length, that length, the shortest first episode) of the vector env
    under seeded uniform random actions."""
    venv = gym.make_vec("LaWM-v0", num_envs=num_envs, vectorization_mode="vector_entry_point", obs_type="latent",
                        checkpoint=checkpoint, device=device)
    limit = venv.unwrapped.sim.max_episode_steps
    venv.reset(seed=seed)
    rng = np.random.default_rng(seed)
    length, done = np.zeros(num_envs, dtype=int), np.zeros(num_envs, dtype=bool)
    for _ in range(limit):
        _, _, terminated, truncated, _ = venv.step(rng.uniform(-1, 1, size=venv.action_space.shape).astype(np.float32))
        length[~done] += 1
        done |= terminated | truncated
    venv.close()
    return int((length >= limit).sum()), limit, int(length.min())


def random_rollouts(model: WorldModel, path: Path, count: int, steps: int, seed: int) -> tuple[float, Tensor]:
    """Share of ``count`` random-action rollouts of ``steps`` from the initial states LaWM-v0 would start from
    without a failed solve, and cond M(q) at every configuration they pass before their first failure (empty for
    the baseline)."""
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    start = make_initial_states("auto", model, path, model_metadata(path), None).sample(count, generator)
    actions = (torch.rand(count, steps, model.config.action_dim, generator=generator) * 2 - 1).to(device)
    with torch.no_grad():
        _, imagined = model.rollout(model.start(*start), actions)
        clean = imagined.converged.all(1).float().mean().item()
        valid = imagined.converged.long().cumprod(1) > 0
        condition = model.mass_condition(imagined.positions[valid])
    return clean, condition[condition.isfinite()].cpu()


def heldout_failures(model: WorldModel, data: Path, horizon: int = 12, stride: int = 4) -> tuple[float, int]:
    """Share of ``horizon``-step open-loop rollouts, from the encoded pairs of every ``stride``-th step of the
    held-out episodes under their true actions, with a failed solve; and the number of windows."""
    device = next(model.parameters()).device
    starts, actions = [], []
    with torch.no_grad():
        for episode in load_episodes(data):
            q = model.encode(torch.from_numpy(episode.obs).to(device))
            a = torch.from_numpy(episode.actions).to(device, torch.float32)
            for t in range(0, len(a) - horizon, stride):
                starts.append((q[t], q[t + 1], a[t]))
                actions.append(a[t + 1 : t + 1 + horizon])
        q_prev, q, u_prev = (torch.stack(t) for t in zip(*starts))
        _, imagined = model.rollout(model.start(q_prev, q, u_prev), torch.stack(actions))
    return (~imagined.converged).any(1).float().mean().item(), len(starts)


def long_run(checkpoint: str, num_envs: int, steps: int, seed: int, device: str) -> tuple[float, float, int]:
    """Env-steps/s of the vector env over its first ``SHORT_RUN`` steps (at most ``steps``) and over ``steps``
    steps of seeded uniform random actions (episodes reset automatically), and the number of episode ends."""
    short = min(SHORT_RUN, steps)
    venv = gym.make_vec("LaWM-v0", num_envs=num_envs, vectorization_mode="vector_entry_point", obs_type="latent",
                        checkpoint=checkpoint, device=device)
    venv.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actions = [rng.uniform(-1, 1, size=venv.action_space.shape).astype(np.float32) for _ in range(steps)]
    ends, short_rate = 0, float("nan")
    start = time.perf_counter()
    for k, action in enumerate(actions):
        _, _, terminated, truncated, _ = venv.step(action)
        ends += int((terminated | truncated).sum())
        if k + 1 == short:
            short_rate = short * num_envs / (time.perf_counter() - start)
    rate = steps * num_envs / (time.perf_counter() - start)
    venv.close()
    return short_rate, rate, ends


def benchmark_robustness(models: tuple[str, ...], heldout: str | Path | None = None, *, num_envs: int = 100,
                         rollouts: int = 200, long_envs: int = 1024, long_steps: int = 1000, seed: int = 0,
                         device: str = "auto") -> list[Robustness]:
    results = []
    for name in models:
        path = model_dir(name)
        model = load_world_model(path, device).eval()
        reached, limit, shortest = first_episodes(name, num_envs, seed, device)
        clean, condition = random_rollouts(model, path, rollouts, limit, seed)
        quantiles = condition.quantile(torch.tensor([0.5, 0.99])).tolist() if condition.numel() else [float("nan")] * 2
        failed, windows = heldout_failures(model, Path(heldout)) if heldout is not None else (float("nan"), 0)
        short_rate, rate, ends = long_run(name, long_envs, long_steps, seed, device)
        results.append(Robustness(name, reached, num_envs, limit, shortest, clean, quantiles[0], quantiles[1], failed, windows,
                                  short_rate, rate, ends))
    return results


def format_robustness_table(results: list[Robustness], long_envs: int, long_steps: int) -> str:
    """One row per figure, one column per model (an autoreset takes one step of the long run)."""
    short = min(SHORT_RUN, long_steps)
    limit = results[0].episode_steps
    rows = [
        ("random first episodes of the vector env reaching the episode length", lambda r: f"{r.first_episodes} of {r.num_envs} ({r.first_episodes / r.num_envs:.1%})"),
        ("shortest of those first episodes (steps)", lambda r: f"{r.shortest}"),
        ("random-action rollouts from the env's initial states without a failed solve", lambda r: f"{r.rollouts_clean:.1%}"),
        ("cond M(q) along them, median / 99th percentile", lambda r: f"{r.condition_p50:.0f} / {r.condition_p99:.0f}"),
        ("12-step open-loop rollouts from held-out windows with a failed solve",
         lambda r: f"{r.heldout_failed:.1%} of {r.heldout_windows}" if r.heldout_windows else "no --heldout-data"),
        (f"vector env N={long_envs}, env-steps/s over {long_steps} steps / first {short}",
         lambda r: f"{r.long_rate / 1e3:.1f}k / {r.short_rate / 1e3:.1f}k ({r.short_rate / r.long_rate:.2f}x)"),
        (f"episode ends in those {long_steps * long_envs:,} steps ({long_envs * (long_steps // (limit + 1)):,} if none ended early)",
         lambda r: f"{r.episode_ends:,}"),
    ]
    width = max(len(label) for label, _ in rows)
    columns = [max(len(r.model), 22) for r in results]
    lines = [f"{'figure':<{width}}  " + "  ".join(f"{r.model:>{c}}" for r, c in zip(results, columns))]
    for label, cell in rows:
        lines.append(f"{label:<{width}}  " + "  ".join(f"{cell(r):>{c}}" for r, c in zip(results, columns)))
    return "\n".join(lines)
