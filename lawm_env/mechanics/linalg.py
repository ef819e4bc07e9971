"""The Newton matrix K ≈ -∂r/∂q_{k+1} = M/h + R/2 of the DEL residual, held as its inverse per sample.

``BroydenInverse`` starts from K⁻¹, solves for any subset of the batch, and refines itself by secant updates
along a quasi-Newton iteration. ``factor_mass`` builds M = CCᵀ + eps·I from the packed lower-triangular
factor C that a learned Lagrangian outputs. K keeps the eps·I and R/2 terms: where the learned C is nearly
singular they carry the Jacobian, and without them the chord iteration contracts by only about 0.8 per step.
"""

from __future__ import annotations

import torch
from torch import Tensor


def unpack_factor(packed: Tensor, dim: int) -> Tensor:
    """Lower-triangular C, (batch, dim, dim), from its row-major packed entries (dim(dim+1)/2, batch)."""
    rows, cols = torch.tril_indices(dim, dim, device=packed.device)
    flat = packed.new_zeros(packed.shape[1], dim * dim)
    flat[:, rows * dim + cols] = packed.mT
    return flat.view(-1, dim, dim)


def factor_mass(packed: Tensor, dim: int, eps: float = 0.0) -> Tensor:
    """M = C Cᵀ + eps·I, (batch, dim, dim), from C's row-major packed lower-triangular entries (dim(dim+1)/2, batch)."""
    factor = unpack_factor(packed, dim)
    return torch.baddbmm(torch.eye(dim, dtype=packed.dtype, device=packed.device).mul(eps).expand(factor.shape[0], dim, dim), factor, factor.mT)


class BroydenInverse:
    """H ≈ K⁻¹, (batch, dim, dim), started from the structured K and refined by Broyden's ("good") update
    from each accepted Newton step: with K ≈ -J the secant condition is H·y = -s for the step s and the
    residual change y. The chord matrix K misses the velocity terms of the Jacobian; the update recovers
    them along the iteration, so samples at large latent velocities keep converging fast."""

    def __init__(self, inverse: Tensor) -> None:
        self.inverse = inverse

    @classmethod
    def of(cls, matrix: Tensor, batch: int) -> "BroydenInverse":
        """The inverse of K, one shared (dim, dim) or one per sample (batch, dim, dim), for ``batch`` samples;
        a singular K gives non-finite rows, which the Newton iteration treats as failed directions."""
        dim = matrix.shape[-1]
        return cls(torch.linalg.inv_ex(matrix)[0].expand(batch, dim, dim).clone())

    def solve(self, rhs: Tensor, index: Tensor | None = None) -> Tensor:
        inverse = self.inverse if index is None else self.inverse[index]
        return (inverse @ rhs.unsqueeze(-1)).squeeze(-1)

    def update(self, rows: Tensor, step: Tensor, change: Tensor) -> None:
        """H ← H + (t - Hy)(tᵀH)/(tᵀHy) with t = -step, y = change, for the samples ``rows``; skipped where
        tᵀHy is tiny against |t|·|Hy| or the result is not finite."""
        h, t = self.inverse[rows], -step
        hy = (h @ change.unsqueeze(-1)).squeeze(-1)
        th = (t.unsqueeze(-2) @ h).squeeze(-2)
        denominator = (t * hy).sum(-1)
        usable = denominator.abs() > 1e-6 * torch.linalg.vector_norm(t, dim=-1) * torch.linalg.vector_norm(hy, dim=-1)
        updated = h + (t - hy).unsqueeze(-1) * th.unsqueeze(-2) / torch.where(usable, denominator, 1.0)[:, None, None]
        keep = usable & torch.isfinite(updated).all(-1).all(-1)
        self.inverse[rows] = torch.where(keep[:, None, None], updated, h)

    def merged(self, other: "BroydenInverse", use_other: Tensor) -> "BroydenInverse":
        """Rows ``use_other`` taken from ``other`` (partial resets; samples whose own K is not usable)."""
        return BroydenInverse(torch.where(use_other[:, None, None], other.inverse, self.inverse))
