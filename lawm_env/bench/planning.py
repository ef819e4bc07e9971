"""Planning time per action: one full plan of a sampling planner through the default model's LaWM transition and
through the parameter-matched baseline transition (same encoder, decoder and reward head), from latent states of
real task frames, timed side by side; plus the imagined latent steps per second during planning."""

from __future__ import annotations

from dataclasses import replace

import torch

from lawm_env.bench.timing import time_interleaved
from lawm_env.envs.initial_states import STATES_FILE, StoredStates
from lawm_env.model.io import load_world_model, model_dir
from lawm_env.model import WorldModel
from planners.config import PlannerConfig
from agents.imagined_return import ImaginedReturn


def baseline_twin(model: WorldModel) -> WorldModel:
    """The baseline world model of the same configuration: the LaWM's encoder, decoder and reward head, with
    the parameter-matched MLP transition (untrained: its step costs the same whatever its weights)."""
    twin = WorldModel(replace(model.config, transition="mlp")).to(next(model.parameters()).device)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("transition.")}
    twin.load_state_dict(state, strict=False)
    return twin.eval()


def benchmark_planning(checkpoint: str | None, planner: PlannerConfig, device: torch.device, repeats: int = 3,
                       starts: int = 4) -> dict[str, dict[str, float]]:
    """Seconds per planned action and imagined steps per second, for the LaWM and the baseline transition."""
    path = model_dir(checkpoint)
    model = load_world_model(path, device)
    models = {"LaWM (DEL transition)": model, "baseline (MLP transition)": baseline_twin(model)}
    if (path / STATES_FILE).is_file():
        pairs = StoredStates(path / STATES_FILE, device).sample(starts, torch.Generator().manual_seed(0))
    else:  # a model without stored real-task states: small random latents
        q = 0.1 * torch.randn(starts, model.config.latent_dim, generator=torch.Generator().manual_seed(0)).to(device)
        pairs = (q, q, torch.zeros(starts, model.config.action_dim, device=device))
    objectives = {name: ImaginedReturn(m) for name, m in models.items()}
    planners = {name: planner.build(model.config.action_dim, seed=0, device=device) for name in models}
    counter = {"round": 0}

    def plan(name: str):
        def once() -> None:
            i = counter["round"] % starts
            objectives[name].set_start(pairs[0][i], pairs[1][i], pairs[2][i])
            planners[name].reset()
            planners[name].plan(objectives[name])
        return once

    seconds = time_interleaved({name: plan(name) for name in models}, device, repeats=repeats * starts, warmup=1)
    calls = repeats * starts + 1  # timed rounds and the warm-up round
    return {name: {"seconds": seconds[name], "imagined_steps_per_s": objectives[name].imagined_steps / calls / seconds[name],
                   "converged": objectives[name].converged_fraction} for name in models}


def format_planning_table(results: dict[str, dict[str, float]]) -> str:
    """The table ``lawm bench --suite plan`` prints: ratios against the baseline transition."""
    base = results["baseline (MLP transition)"]["seconds"]
    rows = [f"{'transition':34s} {'s/action':>9s} {'ratio':>7s} {'imagined steps/s':>17s} {'converged':>9s}"]
    for name, r in results.items():
        rows.append(f"{name:34s} {r['seconds']:9.3f} {r['seconds'] / base:7.2f} {r['imagined_steps_per_s']:17.0f} "
                    f"{r['converged']:>9.2%}")
    return "\n".join(rows)
