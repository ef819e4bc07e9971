"""Batched damped Newton with per-sample backtracking (Armijo) line search on ½‖r‖².

The solver knows nothing about mechanics: it calls ``evaluate(x, index)`` which returns the residual at
``x`` for the samples ``index`` of the batch (None: all), a Jacobian (exact or a structured approximation),
and a tuple of per-sample payload tensors that are kept in step with the accepted iterates (the solver of the
DEL equation carries the partial derivatives it needs afterwards there). Samples converge, stall or run out
of iterations independently; only unfinished samples are evaluated again.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor

Evaluation = tuple[Tensor, Tensor, tuple[Tensor, ...]]
EvaluateFn = Callable[[Tensor, "Tensor | None"], Evaluation]


class NewtonResult(NamedTuple):
    """Outcome of a batched solve; every field has the batch as its first dimension."""

    x: Tensor
    """Final iterate, the one with the smallest residual seen (always finite when x0 is)."""
    residual_norm: Tensor
    """‖r(x)‖₂ per sample (inf where the residual could not be evaluated finitely)."""
    iterations: Tensor
    """Newton iterations taken per sample (int64)."""
    converged: Tensor
    """‖r(x)‖₂ ≤ tol per sample."""
    payload: tuple[Tensor, ...]
    """The evaluation payload at the final iterate."""


def _finite_norm(r: Tensor) -> Tensor:
    n = torch.linalg.vector_norm(r, dim=-1)
    return torch.where(torch.isfinite(n), n, torch.full_like(n, float("inf")))


def _assign(dst: tuple[Tensor, ...], index: Tensor, src: tuple[Tensor, ...]) -> None:
    for d, s in zip(dst, src):
        d[index] = s


def damped_newton(
    evaluate: EvaluateFn,
    x0: Tensor,
    *,
    tol: float,
    max_iter: int,
    max_backtracks: int = 8,
    armijo: float = 1e-4,
    fallback: Tensor | None = None,
) -> NewtonResult:
    """Solve r(x) = 0 for a batch of independent systems, starting from ``x0`` of shape (batch, dim).

    Each iteration solves J·δ = -r for the unfinished samples and backtracks α ∈ {1, ½, ¼, …} until
    ‖r(x + αδ)‖² ≤ (1 - 2·armijo·α)‖r(x)‖². A sample whose line search fails stops (flagged not converged)
    and keeps its best iterate; non-finite trial points are rejected, so NaN/Inf never replace an iterate.
    Samples whose residual at ``x0`` is not finite restart from ``fallback`` (same shape) when given.
    """
    if max_iter < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")
    with torch.no_grad():
        x = x0.clone()
        r, jac, payload = evaluate(x, None)
        r, jac, payload = r.clone(), jac.expand(x.shape[0], *jac.shape[-2:]).clone(), tuple(p.clone() for p in payload)
        norm = _finite_norm(r)
        if fallback is not None and bool(torch.isinf(norm).any()):
            rows = torch.isinf(norm).nonzero().squeeze(-1)
            x[rows] = fallback[rows]
            r_f, jac_f, payload_f = evaluate(x[rows], rows)
            r[rows], norm[rows] = r_f, _finite_norm(r_f)
            jac[rows] = jac_f.expand(rows.numel(), *jac_f.shape[-2:])
            _assign(payload, rows, payload_f)
        iterations = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        stalled = ~torch.isfinite(norm)
        for _ in range(max_iter):
            index = ((norm > tol) & ~stalled).nonzero().squeeze(-1)
            if index.numel() == 0:
                break
            step, info = torch.linalg.solve_ex(jac[index], -r[index])
            bad = (info != 0) | ~torch.isfinite(step).all(-1)
            stalled[index[bad]] = True
            index, step = index[~bad], step[~bad]
            alpha = torch.ones(index.numel(), dtype=x.dtype, device=x.device)
            pending = torch.arange(index.numel(), device=x.device)
            for _ in range(max_backtracks + 1):
                rows = index[pending]
                trial = x[rows] + alpha[pending, None] * step[pending]
                r_t, jac_t, payload_t = evaluate(trial, rows)
                norm_t = _finite_norm(r_t)
                ok = norm_t.square() <= (1.0 - 2.0 * armijo * alpha[pending]) * norm[rows].square()
                accepted = rows[ok]
                x[accepted], r[accepted], norm[accepted] = trial[ok], r_t[ok], norm_t[ok]
                jac[accepted] = jac_t.expand(rows.numel(), *jac_t.shape[-2:])[ok]
                _assign(payload, accepted, tuple(p[ok] for p in payload_t))
                pending = pending[~ok]
                if pending.numel() == 0:
                    break
                alpha[pending] *= 0.5
            stalled[index[pending]] = True
            iterations[index] += 1
        return NewtonResult(x, norm, iterations, norm <= tol, payload)
