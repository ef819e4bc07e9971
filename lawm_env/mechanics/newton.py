"""Batched damped Newton with per-sample backtracking (Armijo) line search on ½‖r‖².

The solver knows nothing about mechanics. ``evaluate(x, index)`` returns the residual at ``x`` for the
samples ``index`` of the batch (None: all) and a tuple of per-sample payload tensors that are kept in step
with the accepted iterates (the DEL solver keeps there the partial derivatives it needs afterwards, or the
exact Jacobian). ``direction(r, payload, index)`` returns the step δ with J·δ ≈ -r for those samples, from an
exact Jacobian or a structured approximation. Samples converge, stall or run out of iterations
independently; only unfinished samples are evaluated again.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor

Evaluation = tuple[Tensor, tuple[Tensor, ...]]
EvaluateFn = Callable[[Tensor, "Tensor | None"], Evaluation]
DirectionFn = Callable[[Tensor, tuple[Tensor, ...], Tensor], Tensor]
SecantFn = Callable[[Tensor, Tensor, Tensor], None]


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


def finite_norm(r: Tensor) -> Tensor:
    """Per-sample 2-norm with non-finite values mapped to +inf."""
    n = torch.linalg.vector_norm(r, dim=-1)
    return torch.where(torch.isfinite(n), n, torch.full_like(n, float("inf")))


def _assign(dst: tuple[Tensor, ...], index: Tensor, src: tuple[Tensor, ...]) -> None:
    for d, s in zip(dst, src):
        d[index] = s


def damped_newton(
    evaluate: EvaluateFn,
    direction: DirectionFn,
    x0: Tensor,
    *,
    tol: float | Tensor,
    max_iter: int,
    initial: Evaluation | None = None,
    fallback: Tensor | None = None,
    max_backtracks: int = 8,
    armijo: float = 1e-4,
    secant: SecantFn | None = None,
    limits: Tensor | None = None,
) -> NewtonResult:
    """Solve r(x) = 0 for a batch of independent systems, starting from ``x0`` of shape (batch, dim).

    Each iteration takes δ = direction(r) for the unfinished samples and backtracks α ∈ {1, ½, ¼, …} until
    ‖r(x + αδ)‖² ≤ (1 - 2·armijo·α)‖r(x)‖². A sample whose line search fails stops (flagged not converged)
    and keeps its best iterate; non-finite trial points are rejected, so NaN/Inf never replace an iterate.
    ``tol`` is one tolerance or one per sample. ``initial`` is the evaluation at ``x0`` when the caller already has it. Samples whose residual at ``x0``
    is not finite restart from ``fallback`` (same shape) when given. ``secant(rows, s, y)`` is told each
    accepted step s = Δx and its residual change y = Δr, so that quasi-Newton directions can update.
    ``limits`` (batch,) caps each sample's iterations below ``max_iter``, so that every sample's iteration budget
    depends on its own system only, never on the rest of the batch (the values themselves agree across
    batchings to round-off: kernels may round differently for different batch sizes).
    """
    if max_iter < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")
    with torch.no_grad():
        tol = torch.as_tensor(tol, dtype=x0.dtype, device=x0.device).expand(x0.shape[0])
        x = x0.clone()
        r, payload = evaluate(x, None) if initial is None else initial
        r, payload = r.clone(), tuple(p.clone() for p in payload)
        norm = finite_norm(r)
        if fallback is not None and bool(torch.isinf(norm).any()):
            rows = torch.isinf(norm).nonzero().squeeze(-1)
            x[rows] = fallback[rows]
            r_f, payload_f = evaluate(x[rows], rows)
            r[rows], norm[rows] = r_f, finite_norm(r_f)
            _assign(payload, rows, payload_f)
        iterations = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        stalled = torch.isinf(norm)
        if limits is not None:
            if limits.shape != iterations.shape:
                raise ValueError(f"limits must have shape ({x.shape[0]},), got {tuple(limits.shape)}")
            stalled |= limits.to(iterations.device) <= 0
        for _ in range(max_iter):
            active = (norm > tol) & ~stalled
            if limits is not None:
                active &= iterations < limits.to(iterations.device)
            index = active.nonzero().squeeze(-1)
            if index.numel() == 0:
                break
            step = direction(r[index], tuple(p[index] for p in payload), index)
            bad = ~torch.isfinite(step).all(-1)
            stalled[index[bad]] = True
            index, step = index[~bad], step[~bad]
            if index.numel() == 0:  # every remaining sample stalled on a non-finite direction
                break
            alpha = torch.ones(index.numel(), dtype=x.dtype, device=x.device)
            pending = torch.arange(index.numel(), device=x.device)
            for _ in range(max_backtracks + 1):
                rows = index[pending]
                trial = x[rows] + alpha[pending, None] * step[pending]
                r_t, payload_t = evaluate(trial, rows)
                norm_t = finite_norm(r_t)
                ok = norm_t.square() <= (1.0 - 2.0 * armijo * alpha[pending]) * norm[rows].square()
                accepted = rows[ok]
                if secant is not None and accepted.numel():
                    secant(accepted, trial[ok] - x[accepted], r_t[ok] - r[accepted])
                x[accepted], r[accepted], norm[accepted] = trial[ok], r_t[ok], norm_t[ok]
                _assign(payload, accepted, tuple(p[ok] for p in payload_t))
                pending = pending[~ok]
                if pending.numel() == 0:
                    break
                alpha[pending] *= 0.5
            stalled[index[pending]] = True
            iterations[index] += 1
        return NewtonResult(x, norm, iterations, norm <= tol, payload)
