"""How well one objective ranks action sequences against another: a world model's imagined returns against
the true simulator's, on candidate plans around a real plan. This is what MPC needs from a model: not exact
returns, but the right order among the plans it chooses from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

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
        imagined, true = model(candidates).double().cpu(), truth(candidates).double().cpu()
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
