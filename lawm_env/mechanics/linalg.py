"""The Newton matrix K ≈ -∂r/∂q_{k+1} = M/h + R/2 of the DEL residual, held as its inverse per sample.

``spd_inverse`` gives K⁻¹ (K is symmetric positive definite), ``broyden_update`` refines it by secant updates
along a quasi-Newton iteration, and ``factor_mass`` builds M = CCᵀ + eps·I from the packed lower-triangular
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


def factor_mass(packed: Tensor, dim: int, eps: float = 0.0, *, scale: float = 1.0, shift: Tensor | None = None) -> Tensor:
    """scale·(C Cᵀ + eps·I) + shift, (batch, dim, dim), from C's row-major packed lower-triangular entries
    (dim(dim+1)/2, batch), in one batched product: M itself by default, the Newton matrix K = M/h + R/2 with
    ``scale`` 1/h and ``shift`` R/2 ((dim, dim) or (batch, dim, dim))."""
    factor = unpack_factor(packed, dim)
    base = torch.eye(dim, dtype=packed.dtype, device=packed.device).mul(scale * eps)
    if shift is not None:
        base = base + shift
    return torch.baddbmm(base.expand(factor.shape[0], dim, dim), factor, factor.mT, alpha=scale)


def batched_matvec(matrix: Tensor, vector: Tensor) -> Tensor:
    """matrix @ vector per row: (batch, m, n) with (batch, n) → (batch, m)."""
    return (matrix @ vector.unsqueeze(-1)).squeeze(-1)


def spd_inverse(matrix: Tensor) -> Tensor:
    """Inverse of symmetric positive-definite matrices (..., n, n) by Cholesky (about twice as fast as a general
    inverse of small batched matrices); rows whose factorization fails are NaN, never an exception."""
    factor, info = torch.linalg.cholesky_ex(matrix)
    eye = torch.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device)
    # the right-hand side carries the verdict: NaN for the failed rows, so their inverse is NaN
    rhs = torch.where((info == 0)[..., None, None], eye, float("nan"))
    inverse_factor = torch.linalg.solve_triangular(factor, rhs, upper=False)
    return inverse_factor.mT @ inverse_factor


def broyden_update(inverse: Tensor, step: Tensor, change: Tensor, rows: Tensor) -> Tensor:
    """Broyden's ("good") update of H ≈ K⁻¹ ≈ -J⁻¹ (batch, n, n) from a step s = Δx and the residual change
    y = Δr, in the rows ``rows`` (batch,) bool: H + (t - Hy)(tᵀH)/(tᵀHy) with t = -s, so that H·y = -s. Rows
    where tᵀHy is tiny against |t|·|Hy|, or the rank-one term is not finite, keep H exactly. The chord matrix
    K = M/h + R/2 misses the velocity terms of the Jacobian; the update recovers them along the iteration, so
    rows at large latent velocities keep converging fast."""
    t = -step
    hy = batched_matvec(inverse, change)
    th = batched_matvec(inverse.mT, t)
    denominator = (t * hy).sum(-1)
    scale = (t * t).sum(-1) * (hy * hy).sum(-1)
    left = (t - hy) / denominator.unsqueeze(-1)
    # a NaN or inf anywhere in the rank-one term makes this sum non-finite
    finite = ((left.sum(-1) + th.sum(-1)).abs() < float("inf"))
    keep = (rows & (denominator.square() > 1e-12 * scale) & finite).unsqueeze(-1)
    return torch.addcmul(inverse, torch.where(keep, left, 0.0).unsqueeze(-1), torch.where(keep, th, 0.0).unsqueeze(-2))
