"""How well one objective ranks action sequences against another: a world model's imagined returns against
the true simulator's, on candidate plans around a real plan. This is what MPC needs from a model: not exact
returns, but the right order among the plans it chooses from. The start check (``measure_start``,
``StartReport``) asks the same at the real reset, with probe sequences, and measures how far the model's
imagined rest drifts from the real one."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from agents.imagined_return import ImaginedReturn
from lawm_env.data.dmc import PixelTask
from lawm_env.model import WorldModel
from planners.base import Objective


def rank_correlation(a: Tensor, b: Tensor) -> float:
    """Spearman's rank correlation of two (n,) score vectors (ties ranked by position); NaN when either is
    constant."""
    if a.shape != b.shape or a.dim() != 1 or a.numel() < 2:
        raise ValueError(f"need two (n,) vectors with n >= 2, got {tuple(a.shape)} and {tuple(b.shape)}")
    ranks = [torch.argsort(torch.argsort(x)).double() for x in (a, b)]
    if any(bool((x == x[0]).all()) for x in (a, b)):
        return float("nan")
    return float(torch.corrcoef(torch.stack(ranks))[0, 1])


def candidate_plans(plan: Tensor, count: int, generator: torch.Generator, low: float = -1.0, high: float = 1.0,
                    scales: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4, 0.8)) -> Tensor:
    """``count`` action sequences (count, H, m) around ``plan`` (H, m): equal shares perturbed by Gaussian noise
    of each std in ``scales`` and drawn uniformly, all clipped to the bounds. Near and far alternatives, as a
    sampling planner sees them."""
    if count < len(scales) + 1:
        raise ValueError(f"need at least {len(scales) + 1} candidates, got {count}")
    share = count // (len(scales) + 1)
    std = torch.tensor(scales, dtype=plan.dtype, device=plan.device).repeat_interleave(share)
    noise = torch.randn((std.numel(), *plan.shape), generator=generator, dtype=plan.dtype, device=plan.device)
    uniform = torch.rand((count - std.numel(), *plan.shape), generator=generator, dtype=plan.dtype, device=plan.device)
    return torch.cat([plan + std[:, None, None] * noise, low + (high - low) * uniform]).clamp(low, high)


@dataclass
class RankingReport:
    """Per state: the rank correlation of the two objectives over the candidates, the best true return among
    them, and the true return of the candidate the model ranks first."""

    correlations: list[float] = field(default_factory=list)
    best: list[float] = field(default_factory=list)
    picked: list[float] = field(default_factory=list)

    def add(self, model: Objective, truth: Objective, candidates: Tensor) -> None:
        """Score ``candidates`` with both objectives from their current start states and record the result."""
        self.record(model(candidates).double().cpu(), truth(candidates).double().cpu())

    def record(self, imagined: Tensor, true: Tensor) -> None:
        """Record one state's imagined and true (n,) returns of the same candidates."""
        self.correlations.append(rank_correlation(imagined, true))
        self.best.append(float(true.max()))
        self.picked.append(float(true[int(imagined.argmax())]))

    def summary(self) -> str:
        """Means over all states, then over the half of the states with the higher best true return (nearer the
        task's goal; ties in state order) and the other half. States with an undefined correlation count only
        in the returns."""
        rho, best, picked = (np.asarray(x, dtype=float) for x in (self.correlations, self.best, self.picked))
        if rho.size == 0:
            return "0 states"

        def part(rows: np.ndarray) -> str:
            finite = rho[rows][np.isfinite(rho[rows])]
            correlation = float(finite.mean()) if finite.size else float("nan")
            return (f"rank correlation {correlation:.3f}; the model's first choice earns {picked[rows].mean():.1f} "
                    f"of the best candidate's {best[rows].mean():.1f} true return")

        lines = [f"{rho.size} states: {part(np.ones(rho.size, bool))}"]
        if rho.size >= 2:
            high = np.zeros(rho.size, bool)
            high[np.argsort(-best, kind="stable")[: (rho.size + 1) // 2]] = True
            lines += [f"  higher half of the best true returns ({high.sum()} states): {part(high)}",
                      f"  lower half ({(~high).sum()} states): {part(~high)}"]
        return "\n".join(lines)


def probe_sequences(horizon: int, action_dim: int, random: int, generator: torch.Generator, low: float = -1.0,
                    high: float = 1.0) -> tuple[list[str], Tensor]:
    """Named action sequences (n, H, m) that probe a model from rest, and their names: doing nothing (zero
    actions, clipped to the bounds), each bound held, swings between the bounds switching every 2 and every 4
    steps (both phases), then ``random`` uniform sequences (all named ``random``)."""
    if horizon < 1 or action_dim < 1 or random < 0 or not low < high:
        raise ValueError(f"need horizon >= 1, action_dim >= 1, random >= 0 and low < high, got {horizon}, "
                         f"{action_dim}, {random}, {low}, {high}")
    steps = torch.arange(horizon)
    named = {"nothing": torch.zeros(horizon).clamp(low, high), f"hold {high:+g}": torch.full((horizon,), high),
             f"hold {low:+g}": torch.full((horizon,), low)}
    for half in (2, 4):
        first = (steps // half) % 2 == 0
        named[f"swing every {half}, {high:+g} first"] = torch.where(first, high, low)
        named[f"swing every {half}, {low:+g} first"] = torch.where(first, low, high)
    held = torch.stack(list(named.values()))[..., None].expand(-1, -1, action_dim)
    uniform = low + (high - low) * torch.rand((random, horizon, action_dim), generator=generator)
    return list(named) + ["random"] * random, torch.cat([held, uniform]).float()


@dataclass
class StartReport:
    """What a model imagines from the real reset, the static pair (q0, q0) that MPC starts from, against the
    truth: the ranking of probe sequences (``probe_sequences``) by imagined and true return, and the drift of
    the imagined zero-action rollout from the encoded real frames under zero actions.

    A model whose imagined rest is not at rest shows a growing drift, and ranks doing nothing highly when the
    reward head scores the drifted states well: its MPC then prefers to wait."""

    names: list[str]
    ranking: RankingReport = field(default_factory=RankingReport)
    imagined: list[Tensor] = field(default_factory=list)
    true: list[Tensor] = field(default_factory=list)
    drift: list[Tensor] = field(default_factory=list)

    def add(self, imagined: Tensor, true: Tensor, drift: Tensor) -> None:
        """Record one start: the (n,) imagined and true returns of the named sequences, and the (H,) squared
        latent distance of the imagined zero-action rollout from the encoded real frames."""
        if imagined.shape != (len(self.names),) or true.shape != imagined.shape or drift.dim() != 1:
            raise ValueError(f"need ({len(self.names)},) returns and an (H,) drift, got {tuple(imagined.shape)}, "
                             f"{tuple(true.shape)}, {tuple(drift.shape)}")
        self.ranking.record(imagined, true)
        self.imagined.append(imagined.double().cpu())
        self.true.append(true.double().cpu())
        self.drift.append(drift.double().cpu())

    def summary(self) -> str:
        """The mean drift after 1, 4 and H steps, a table of mean imagined and true returns per probe (random
        sequences as their mean and best), where doing nothing ranks in imagination, and the ranking report."""
        if not self.drift:
            return "0 starts"
        imagined, true, drift = (torch.stack(x).mean(0) for x in (self.imagined, self.true, self.drift))
        horizon = drift.numel()
        steps = sorted({1, min(4, horizon), horizon})
        lines = [f"{len(self.drift)} starts from the reset, horizon {horizon}",
                 "imagined zero-action drift from the encoded real frames (squared latent distance): "
                 + ", ".join(f"{drift[k - 1]:.3f} after {k}" for k in steps),
                 f"{'sequence':<26}{'imagined':>10}{'true':>10}"]
        rows = [(name, imagined[i], true[i]) for i, name in enumerate(self.names) if name != "random"]
        random = [i for i, name in enumerate(self.names) if name == "random"]
        if random:
            best = [(float(x[random].max()), float(y[random].max())) for x, y in zip(self.imagined, self.true)]
            rows += [(f"random, mean of {len(random)}", imagined[random].mean(), true[random].mean()),
                     (f"random, best of {len(random)}", *torch.tensor(best, dtype=torch.float64).mean(0))]
        lines += [f"{name:<26}{float(a):>10.2f}{float(b):>10.2f}" for name, a, b in rows]
        if "nothing" in self.names:
            i = self.names.index("nothing")
            ranks = [int((x > x[i]).sum()) + 1 for x in self.imagined]
            lines.append(f"doing nothing ranks {np.mean(ranks):.1f} of {len(self.names)} in imagination "
                         f"({np.mean([int((y > y[i]).sum()) + 1 for y in self.true]):.1f} in truth)")
        return "\n".join(lines + [self.ranking.summary()])


@torch.no_grad()
def measure_start(model: WorldModel, env: PixelTask, truth: Objective, seed: int, sequences: Tensor,
                  report: StartReport) -> None:
    """Reset ``env`` with ``seed`` and add that start to ``report``: the imagined (``ImaginedReturn`` from the
    static pair, as ``MPCAgent`` starts) and true (``truth``, reading the env's state) returns of
    ``sequences`` (n, H, m), then the drift over H zero-action steps of the real env. Leaves the env H steps
    after its reset."""
    frame, _ = env.reset(seed=seed)
    q0 = model.encode_frame(frame)
    zero = torch.zeros(model.config.action_dim, device=q0.device)
    imagined = ImaginedReturn(model)
    imagined.set_start(q0, q0, zero)
    scores = imagined(sequences.to(q0.device)).double().cpu(), truth(sequences).double().cpu()
    horizon = sequences.shape[1]
    real = torch.stack([model.encode_frame(env.step(zero.cpu().numpy())[0]) for _ in range(horizon)])
    _, rollout = model.rollout(model.start(q0[None], q0[None], zero[None]), zero.expand(1, horizon, -1))
    report.add(*scores, model.latent_distance(rollout.positions[0], real))
