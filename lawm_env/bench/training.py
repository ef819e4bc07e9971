"""One training step of LaWM and of the parameter-matched baseline at the same batch: time (interleaved in one
process) and peak memory (each model in a fresh process, so the peaks do not mix)."""

from __future__ import annotations

import multiprocessing
import resource
from dataclasses import dataclass

import torch

from lawm_env.bench.timing import time_interleaved
from lawm_env.model import WorldModel, WorldModelConfig, parameter_count
from lawm_env.training.losses import world_model_losses


@dataclass(frozen=True)
class TrainStepTiming:
    name: str
    seconds: float
    peak_mb: float
    parameters: int
    converged: float
    """Share of the open-loop rollout's DEL solves that converged (1 for the baseline)."""


def _setup(transition: str, batch: int, window: int, image_size: int, latent_dim: int, device: torch.device, seed: int = 0):
    torch.manual_seed(seed)
    model = WorldModel(WorldModelConfig(action_dim=1, latent_dim=latent_dim, transition=transition, image_size=image_size)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), 3e-4)
    g = torch.Generator().manual_seed(seed)
    obs = torch.randint(0, 256, (batch, window + 1, image_size, image_size, 3), dtype=torch.uint8, generator=g).to(device)
    actions = (torch.rand(batch, window, 1, generator=g) * 2 - 1).to(device)
    rewards = torch.rand(batch, window, generator=g).to(device)
    reports: list[dict[str, float]] = []

    def step() -> None:
        total, report = world_model_losses(model, obs, actions, rewards, horizon=window - 1)
        reports.append(report)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    return model, step, reports


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_memory(args: tuple) -> float:
    transition, batch, window, image_size, latent_dim, device_name, threads = args
    torch.set_num_threads(threads)
    device = torch.device(device_name)
    _, step, _ = _setup(transition, batch, window, image_size, latent_dim, device)
    step()  # allocate optimizer state and warm up
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step()
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    before = _rss_mb()
    for _ in range(2):
        step()
    return max(0.0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before)


def benchmark_training(batch: int = 16, window: int = 16, image_size: int = 64, latent_dim: int = 8, repeats: int = 5,
                       device: torch.device = torch.device("cpu")) -> list[TrainStepTiming]:
    """Time and peak memory of one optimizer step (encode, open-loop rollout over window - 1 steps, decode,
    all losses, backward, Adam) for the LaWM and the baseline world model."""
    names = {"lawm": "LaWM (mechanical DEL)", "mlp": "baseline (MLP, matched parameters)"}
    steps, params, reports = {}, {}, {}
    for transition in names:
        model, steps[transition], reports[transition] = _setup(transition, batch, window, image_size, latent_dim, device)
        params[transition] = parameter_count(model.transition)
    seconds = time_interleaved(steps, device, repeats=repeats, warmup=1)
    context = multiprocessing.get_context("spawn")
    peaks = {}
    for transition in names:
        with context.Pool(1) as pool:
            peaks[transition] = pool.map(_peak_memory, [(transition, batch, window, image_size, latent_dim, str(device), torch.get_num_threads())])[0]
    converged = {t: 1.0 - sum(r["not_converged"] for r in reports[t]) / len(reports[t]) for t in names}
    return [TrainStepTiming(names[t], seconds[t], peaks[t], params[t], converged[t]) for t in names]


def format_training_table(results: list[TrainStepTiming]) -> str:
    base = results[-1].seconds
    lines = [f"{'world model':<38} {'s/step':>8} {'ratio':>6} {'peak MB':>8} {'transition params':>18} {'converged':>9}"]
    for r in results:
        lines.append(f"{r.name:<38} {r.seconds:>8.3f} {r.seconds / base:>6.2f} {r.peak_mb:>8.0f} {r.parameters:>18} "
                     f"{r.converged:>9.2%}")
    return "\n".join(lines)
