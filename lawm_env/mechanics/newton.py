"""Batched quasi-Newton with per-row step lengths, as static-shape tensor code.

The solver knows nothing about mechanics. ``evaluate(x, rows)`` returns the residual r(x) of the rows ``rows``
of the batch (None: every row, in order) and a tuple of per-row payload tensors that are kept in step with the
accepted iterates (the DEL solver keeps there the partial derivatives it needs afterwards, or the Jacobian).

Every iteration runs the same arithmetic on every row: one direction, one trial point, one residual
evaluation. A row that has converged, stalled or used its budget is frozen by ``torch.where``; nothing selects
rows, reads a value on the host or branches on data, so an iteration (and a loop of them) traces into one graph
with static shapes. Step lengths replace a nested backtracking loop: each row carries its own α. A trial
x + α·δ that decreases ½‖r‖² enough (Armijo) is accepted and α doubles (up to 1); otherwise the row keeps its
iterate and tries α/2 at the next iteration. A row whose α falls below ``min_step``, or whose direction is not
finite, stalls. With an approximate inverse Newton matrix, every finite trial (accepted or not) refines it by
Broyden's update, so a rejected step still teaches the iteration the Jacobian's missing terms.

Eagerly on the CPU, where reading a flag costs no device synchronization, ``early_exit`` stops the loop once
every row is frozen and carries on with the unfinished rows alone once they are few: neither changes a row's
result (frozen rows are never touched; the remaining rows run the same arithmetic), it only skips work.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor

from lawm_env.mechanics.linalg import batched_matvec, broyden_update
from lawm_env.mechanics.rows import put_rows, take_rows

Evaluation = tuple[Tensor, tuple[Tensor, ...]]
EvaluateFn = Callable[[Tensor, "Tensor | None"], Evaluation]

COMPACT_FRACTION = 0.5
"""With ``early_exit``, the iteration continues on the unfinished rows alone once they are at most this share."""


class NewtonResult(NamedTuple):
    """Outcome of a batched solve; every field has the batch as its first dimension."""

    x: Tensor
    """Final iterate, the one with the smallest residual seen (always finite when x0 or the fallback is)."""
    residual_norm: Tensor
    """‖r(x)‖₂ per row (inf where the residual could not be evaluated finitely)."""
    iterations: Tensor
    """Trial points evaluated per row (int64): each iteration, accepted or not, costs one evaluation."""
    converged: Tensor
    """‖r(x)‖₂ ≤ tol per row."""
    payload: tuple[Tensor, ...]
    """The evaluation payload at the final iterate."""
    inverse: Tensor | None = None
    """The approximate inverse Newton matrix after its secant updates (None without ``inverse``)."""


class _Iterate(NamedTuple):
    """Per-row state of the iteration (batch first in every field)."""

    x: Tensor
    r: Tensor
    norm: Tensor
    payload: tuple[Tensor, ...]
    inverse: Tensor | None
    step: Tensor
    stalled: Tensor
    iterations: Tensor
    budget: Tensor
    tol: Tensor
    fallback: Tensor | None

    def active(self) -> Tensor:
        return (self.norm > self.tol) & ~self.stalled & (self.iterations < self.budget)


def finite_norm(r: Tensor) -> Tensor:
    """Per-row 2-norm with non-finite values mapped to +inf."""
    return torch.nan_to_num(torch.linalg.vector_norm(r, dim=-1), nan=float("inf"))


def _rows(mask: Tensor, like: Tensor) -> Tensor:
    """``mask`` (batch,) shaped to broadcast against ``like`` (batch, ...)."""
    return mask.view(-1, *([1] * (like.dim() - 1)))


def _iteration(it: _Iterate, active: Tensor, evaluate: EvaluateFn, rows: Tensor | None, broyden: bool, armijo: float,
               min_step: float) -> _Iterate:
    """One iteration on every row of ``it`` (``active``: the rows not frozen): a trial point per row, one
    evaluation; frozen rows are left exactly as they are."""
    x, r, norm, step = it.x, it.r, it.norm, it.step
    if it.inverse is not None:
        delta = batched_matvec(it.inverse, r)
    else:
        delta = torch.linalg.solve_ex(it.payload[-1], -r)[0]
    usable = finite_norm(delta) < float("inf")
    trial = torch.where(_rows(usable, x), x + step.unsqueeze(-1) * delta, x)
    restart = norm == float("inf")
    if it.fallback is not None:  # a row whose residual is not finite tries the fallback point next
        trial = torch.where(_rows(restart, x), it.fallback, trial)
        usable = usable | restart
    r_t, payload_t = evaluate(trial, rows)
    norm_t = finite_norm(r_t)
    tried = active & usable
    # Armijo on ½‖r‖²: ‖r_t‖² ≤ (1 - 2·armijo·α)‖r‖²; strict, so that a non-finite trial (inf) is never accepted
    accept = tried & (norm_t < (1.0 - 2.0 * armijo * step).sqrt() * norm)
    inverse = it.inverse
    if inverse is not None and broyden:  # every finite trial, accepted or not, is secant information
        inverse = broyden_update(inverse, trial - x, r_t - r, tried & ~restart & (norm_t < float("inf")))
    rejected = active & ~accept
    step = (step * torch.where(accept, 2.0, torch.where(rejected, 0.5, 1.0))).clamp(max=1.0)
    return _Iterate(
        torch.where(_rows(accept, x), trial, x),
        torch.where(_rows(accept, r), r_t, r),
        torch.where(accept, norm_t, norm),
        tuple(torch.where(_rows(accept, p), p_t, p) for p, p_t in zip(it.payload, payload_t)),
        inverse,
        step,
        it.stalled | (rejected & (~usable | restart | (step < min_step))),
        it.iterations + active,
        it.budget,
        it.tol,
        it.fallback,
    )


def _loop(it: _Iterate, evaluate: EvaluateFn, rows: Tensor | None, iterations: int, early_exit: bool,
          **options) -> _Iterate:
    for k in range(iterations):
        active = it.active()
        if early_exit:
            count = int(active.sum())
            if count == 0:
                break
            if count <= COMPACT_FRACTION * active.shape[0]:
                index = active.nonzero().squeeze(-1)
                part = _loop(take_rows(it, index), evaluate, index if rows is None else rows[index], iterations - k, True,
                             **options)
                return put_rows(it, index, part)
        it = _iteration(it, active, evaluate, rows, **options)
    return it


def damped_newton(
    evaluate: EvaluateFn,
    x0: Tensor,
    *,
    tol: float | Tensor,
    max_iter: int,
    inverse: Tensor | None = None,
    broyden: bool = True,
    initial: Evaluation | None = None,
    fallback: Tensor | None = None,
    limits: Tensor | None = None,
    armijo: float = 1e-4,
    min_step: float = 2.0**-8,
    early_exit: bool = False,
) -> NewtonResult:
    """Solve r(x) = 0 for a batch of independent systems, starting from ``x0`` of shape (batch, dim).

    Directions: δ = H·r with ``inverse`` H ≈ -J⁻¹ per row (batch, dim, dim), refined by Broyden's update unless
    ``broyden`` is False; without ``inverse``, the payload's last entry is the Jacobian J (batch, dim, dim) and
    δ = -J⁻¹r (Newton). ``tol`` is one tolerance or one per row. ``initial`` is the evaluation at ``x0`` when the
    caller has it. Rows whose residual is not finite take ``fallback`` (same shape as ``x0``) as their next trial
    point. ``limits`` (batch,) caps each row's iterations below ``max_iter``: a row's budget depends on its own
    system only, never on the rest of the batch.

    Exactly ``max_iter`` iterations run on the whole batch unless ``early_exit`` (see the module docstring).
    Results agree across batchings and with or without ``early_exit`` to round-off: the arithmetic of a row is
    the same, but kernels may round differently for different batch sizes.
    """
    if max_iter < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")
    batch = x0.shape[0]
    with torch.no_grad():
        budget = torch.full((batch,), max_iter, dtype=torch.long, device=x0.device)
        if limits is not None:
            if limits.shape != (batch,):
                raise ValueError(f"limits must have shape ({batch},), got {tuple(limits.shape)}")
            budget = torch.minimum(budget, limits.to(budget.device, torch.long))
        r, payload = evaluate(x0, None) if initial is None else initial
        it = _Iterate(
            x0, r, finite_norm(r), tuple(payload), inverse,
            torch.ones(batch, dtype=x0.dtype, device=x0.device),
            torch.zeros(batch, dtype=torch.bool, device=x0.device),
            torch.zeros(batch, dtype=torch.long, device=x0.device),
            budget,
            tol.to(x0.dtype).expand(batch) if isinstance(tol, Tensor) else x0.new_full((batch,), tol),
            fallback,
        )
        it = _loop(it, evaluate, None, max_iter, early_exit, broyden=broyden, armijo=armijo, min_step=min_step)
        return NewtonResult(it.x, it.norm, it.iterations, it.norm <= it.tol, it.payload, it.inverse)
