"""One batched transition step: an unconstrained MLP vs the explicit separable DEL step vs the implicit
MechanicalLagrangian DEL step solved to tolerance, timed side by side on the same machine and inputs."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lawm_env.bench.timing import time_interleaved
from lawm_env.graphs import GraphedFunction
from lawm_env.mechanics import DELStepper, DiscreteForcing, MechanicalLagrangian, SeparableLagrangian
from lawm_env.networks import mlp


@dataclass(frozen=True)
class StepTiming:
    """Median time of one batched step, the mean Newton iterations it took (0 for the MLP) and the fraction of
    rows whose solve converged (1 for the MLP)."""

    name: str
    seconds: float
    iterations: float
    converged: float = 1.0


class MLPTransition(nn.Module):
    """The unconstrained baseline transition: q_{k+1} = q_k + MLP(q_{k-1}, q_k, u_k)."""

    def __init__(self, dim: int, action_dim: int, hidden: int, depth: int) -> None:
        super().__init__()
        self.net = mlp(2 * dim + action_dim, dim, hidden, depth)

    def forward(self, q_prev: torch.Tensor, q: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return q + self.net(torch.cat([q_prev, q, u], -1))


def benchmark_step(
    batch: int = 4096,
    dim: int = 16,
    action_dim: int = 4,
    hidden: int = 128,
    depth: int = 2,
    dt: float = 0.05,
    tol: float = 1e-5,
    repeats: int = 30,
    device: torch.device = torch.device("cpu"),
    seed: int = 0,
) -> list[StepTiming]:
    """Time (a) the MLP transition, (b) the explicit separable DEL step, (c) the implicit mechanical DEL
    step, each as a cold ``solve_del``-style step (momentum from the pair) and a warm rollout step."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    q_prev = torch.randn(batch, dim, generator=generator).to(device)
    q = (q_prev + dt * torch.randn(batch, dim, generator=generator).to(device))
    u_prev, u = (torch.rand(batch, action_dim, generator=generator).to(device) * 2 - 1 for _ in range(2))
    mlp_step = MLPTransition(dim, action_dim, hidden, depth).to(device)
    lagrangians = {
        "(b) explicit separable DEL": SeparableLagrangian(dim, dt, hidden=hidden, depth=depth),
        "(c) implicit mechanical DEL": MechanicalLagrangian(dim, dt, hidden=hidden, depth=depth),
    }
    fns = {"(a) MLP transition": lambda: mlp_step(q_prev, q, u)}
    iterations, converged = {"(a) MLP transition": 0.0}, {"(a) MLP transition": 1.0}
    rollout_states = {}
    with torch.no_grad():
        for name, lagrangian in lagrangians.items():
            stepper = DELStepper(lagrangian.to(device), DiscreteForcing(dim, action_dim, dt).to(device), tol=tol)
            state = stepper.start(q_prev, q, u_prev)
            for _ in range(3):  # a rollout step carries momentum, Newton matrix and predictor error along
                state, _ = stepper.step(state, u)
            _, info = stepper.step(state, u)
            _, cold_info = stepper.step(stepper.start(q_prev, q, u_prev), u)
            fns[f"{name}, cold step"] = lambda s=stepper: s.step(s.start(q_prev, q, u_prev), u)
            fns[f"{name}, rollout step"] = lambda s=stepper, st=state: s.step(st, u)
            for kind, report in (("cold step", cold_info), ("rollout step", info)):
                iterations[f"{name}, {kind}"] = report.iterations.double().mean().item()
                converged[f"{name}, {kind}"] = report.converged.double().mean().item()
            rollout_states[name] = (stepper, state)
        if device.type == "cuda":  # the steps as captured CUDA graphs, as world models replay them without grad
            graphed_mlp = GraphedFunction(mlp_step, mlp_step)
            fns["(a) MLP transition, CUDA graph"] = lambda: graphed_mlp(q_prev, q, u)
            iterations["(a) MLP transition, CUDA graph"], converged["(a) MLP transition, CUDA graph"] = 0.0, 1.0
            stepper, state = rollout_states["(c) implicit mechanical DEL"]
            graphed = GraphedFunction(stepper.step, stepper.lagrangian, stepper.force)
            name = "(c) implicit mechanical DEL, rollout step, CUDA graph"
            fns[name] = lambda: graphed(state, u)
            _, info = graphed(state, u)  # captures; a replay runs no rescue, so its own verdicts are reported
            iterations[name] = info.iterations.double().mean().item()
            converged[name] = info.converged.double().mean().item()
        seconds = time_interleaved(fns, device, repeats)
    return [StepTiming(name, seconds[name], iterations[name], converged[name]) for name in fns]


def format_step_table(results: list[StepTiming]) -> str:
    """A plain-text table with each time as a ratio to the first row (the MLP)."""
    base = results[0].seconds
    lines = [f"{'transition':<48} {'ms/step':>9} {'ratio':>7} {'Newton it.':>10} {'converged':>9}"]
    for r in results:
        lines.append(f"{r.name:<48} {1e3 * r.seconds:>9.3f} {r.seconds / base:>7.2f} {r.iterations:>10.2f} {r.converged:>9.2%}")
    return "\n".join(lines)
