"""Planning time per action, side by side in one run: CEM through the LaWM (forced DEL rollouts) and through
the parameter-matched baseline world model, both scoring imagined returns of the same action samples."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from lawm_env.bench.timing import time_interleaved
from lawm_env.envs.initial_states import STATES_FILE, LatentPairs, StoredStates, encode_pair
from lawm_env.model import WorldModel


@dataclass(frozen=True)
class PlanTiming:
    name: str
    seconds: float
    """Wall time of one ``plan`` call, i.e. of choosing one action."""
    evaluations: int
    """Action sequences scored per call."""


def imagined_return(model: WorldModel, q_prev: torch.Tensor, q: torch.Tensor, u_prev: torch.Tensor):
    """The objective actions (population, H, m) -> summed predicted rewards (population,) of rollouts from the
    latent pair (q_prev, q) (d,) reached under ``u_prev`` (m,)."""
    @torch.no_grad()
    def objective(actions: torch.Tensor) -> torch.Tensor:
        n = actions.shape[0]
        state = model.start(q_prev.expand(n, -1), q.expand(n, -1), u_prev.expand(n, -1))
        return model.rollout(state, actions)[1].rewards.sum(1)

    return objective


def start_pair(model: WorldModel, directory: Path) -> LatentPairs:
    """The first initial state stored with the model (planning starts on the data's latents: from
    off-distribution latents, such as encoded noise, DEL solves fail and time nothing useful); encoded
    blank frames when none is stored."""
    path = directory / STATES_FILE
    device = next(model.parameters()).device
    if path.is_file():
        return LatentPairs(*(t[0] for t in StoredStates(path, device).pairs))
    size, m = model.config.image_size, model.config.action_dim
    pair = encode_pair(model, torch.zeros(1, 2, size, size, 3, dtype=torch.uint8), torch.zeros(1, m))
    return LatentPairs(*(t[0] for t in pair))


def benchmark_planning(checkpoint: str | Path | None = None, population: int = 500, elites: int | None = None, horizon: int = 12,
                       iterations: int = 5, repeats: int = 5, device: torch.device = torch.device("cpu")) -> list[PlanTiming]:
    """Seconds per planned action of CEM through the LaWM of ``checkpoint`` (default: the embedded model) and
    through a baseline world model of the same configuration; ``elites`` defaults to a tenth of the population."""
    from planners import CEM

    from lawm_env.default_model import default_model_path
    from lawm_env.training.trainer import load_world_model

    directory = default_model_path() if checkpoint is None else Path(checkpoint)
    lawm = load_world_model(directory, device)
    baseline = WorldModel(replace(lawm.config, transition="mlp")).to(device).eval()
    pair = start_pair(lawm, directory)
    names = {"lawm": "CEM through LaWM", "mlp": "CEM through baseline (MLP)"}
    planners, calls = {}, {}
    for key, model in (("lawm", lawm), ("mlp", baseline)):
        planners[key] = CEM(horizon, lawm.config.action_dim, population=population, elites=elites or max(1, population // 10), iterations=iterations, device=device)
        objective = imagined_return(model, *pair)
        calls[key] = lambda p=planners[key], f=objective: p.plan(f)
    seconds = time_interleaved(calls, device, repeats=repeats, warmup=1)
    return [PlanTiming(names[k], seconds[k], population * iterations) for k in names]


def format_planning_table(results: list[PlanTiming]) -> str:
    base = results[-1].seconds
    lines = [f"{'planner':<30} {'ms/action':>10} {'ratio':>6} {'sequences/action':>17}"]
    for r in results:
        lines.append(f"{r.name:<30} {1000 * r.seconds:>10.1f} {r.seconds / base:>6.2f} {r.evaluations:>17}")
    return "\n".join(lines)
