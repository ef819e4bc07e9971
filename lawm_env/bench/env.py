"""Environment throughput, side by side in one run: the real dm-control pixel env, LaWM-v0, and its vector env."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

import lawm_env  # noqa: F401  (registers LaWM-v0)


@dataclass(frozen=True)
class Throughput:
    name: str
    env_steps_per_second: float
    converged: float = 1.0
    """Share of the measured env-steps whose DEL solve converged (1 for the real env)."""


def _rate(step, num_envs: int, seconds: float) -> float:
    """Env-steps per second of ``step()`` (num_envs env-steps per call) over about ``seconds``."""
    step()  # warm up
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or calls < 3:
        step()
        calls += 1
    return calls * num_envs / (time.perf_counter() - start)


def benchmark_env(checkpoint: str | Path | None = None, task: str = "cartpole-swingup", sizes: tuple[int, ...] = (1, 64, 1024),
                  seconds: float = 3.0, device: str = "auto") -> list[Throughput]:
    from lawm_env.data.dmc import make_pixel_env

    kwargs = {"checkpoint": None if checkpoint is None else str(checkpoint), "device": device}
    results = []
    real = make_pixel_env(task, 64)
    real.reset(seed=0)
    zero = np.zeros(real.action_space.shape, dtype=np.float32)

    def real_step():
        _, _, terminated, truncated, _ = real.step(zero)
        if terminated or truncated:
            real.reset()

    results.append(Throughput(f"real {task} pixels (1 process)", _rate(real_step, 1, seconds)))
    real.close()
    for obs_type in ("latent", "pixels"):
        env = gym.make("LaWM-v0", obs_type=obs_type, **kwargs)
        env.reset(seed=0)
        action = np.zeros(env.action_space.shape, dtype=np.float32)
        flags: list[np.ndarray] = []

        def single_step():
            *_, truncated, info = env.step(action)
            flags.append(np.atleast_1d(info["converged"]))
            if truncated:
                env.reset()

        rate = _rate(single_step, 1, seconds)
        results.append(Throughput(f"LaWM-v0 single env, {obs_type}", rate, float(np.concatenate(flags).mean())))
        env.close()
        for n in sizes:
            venv = gym.make_vec("LaWM-v0", num_envs=n, vectorization_mode="vector_entry_point", obs_type=obs_type, **kwargs)
            venv.reset(seed=0)
            actions = np.zeros(venv.action_space.shape, dtype=np.float32)
            flags = []

            def vector_step():
                *_, infos = venv.step(actions)
                flags.append(infos["converged"][infos["_converged"]])

            rate = _rate(vector_step, n, seconds)
            results.append(Throughput(f"LaWM-v0 vector env N={n}, {obs_type}", rate, float(np.concatenate(flags).mean())))
            venv.close()
    return results


def format_env_table(results: list[Throughput]) -> str:
    base = results[0].env_steps_per_second
    lines = [f"{'environment':<44} {'env-steps/s':>12} {'vs real':>9} {'converged':>9}"]
    for r in results:
        lines.append(f"{r.name:<44} {r.env_steps_per_second:>12.1f} {r.env_steps_per_second / base:>8.1f}x {r.converged:>9.2%}")
    return "\n".join(lines)
