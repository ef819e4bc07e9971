"""Discrete forcing F_d⁻, F_d⁺ (discrete Lagrange–d'Alembert principle): how actions and friction enter.

The learned forcing uses the midpoint rule: F_d⁻ = F_d⁺ = (h/2)·[B(q̄)u - R(q̄)v̄] with an input map B
(dim × action_dim) and a positive-semidefinite dissipation R = DDᵀ. Any callable
``force(q0, q1, u) -> f`` or ``-> (f_minus, f_plus)`` works too.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Union

import torch
from torch import Tensor, nn

from lawm_env.networks import mlp

ForceFn = Callable[[Tensor, Tensor, Union[Tensor, None]], Union[Tensor, tuple[Tensor, Tensor]]]


class ForcingTerms(NamedTuple):
    """Discrete forces of one step (q0 → q1)."""

    minus: Tensor
    """F_d⁻(q0, q1, u): enters the DEL equation at q0 (the step that leaves q0), shape (batch, dim)."""
    plus: Tensor
    """F_d⁺(q0, q1, u): enters the DEL equation at q1 (part of the momentum at q1), shape (batch, dim)."""
    damping: Tensor | None
    """R with ∂F_d⁻/∂q1 ≈ -R/2, for the structured Newton Jacobian; None when unknown."""


class Forcing(nn.Module):
    """Base class of discrete forcing. ``linear`` is True when F_d^± are affine in (q0, q1, u) with
    constant ``input_matrix`` and ``dissipation_matrix``: the separable Lagrangian then stays explicit."""

    linear: bool = False
    action_dim: int | None = None

    def forward(self, q0: Tensor, q1: Tensor, u: Tensor | None) -> ForcingTerms:
        raise NotImplementedError


class CallableForcing(Forcing):
    """Wraps a user callable ``force(q0, q1, u)`` returning F (used for both F_d⁻ and F_d⁺) or a pair."""

    def __init__(self, fn: ForceFn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, q0: Tensor, q1: Tensor, u: Tensor | None) -> ForcingTerms:
        out = self.fn(q0, q1, u)
        minus, plus = out if isinstance(out, tuple) else (out, out)
        for name, value in (("F_d-", minus), ("F_d+", plus)):
            if value.shape != q0.shape:
                raise ValueError(f"the force callable returned {name} of shape {tuple(value.shape)}, expected {tuple(q0.shape)}")
        return ForcingTerms(minus, plus, None)


def as_forcing(force: Forcing | ForceFn | None) -> Forcing | None:
    """Return ``force`` as a Forcing module (or None), wrapping a plain callable."""
    if force is None or isinstance(force, Forcing):
        return force
    if callable(force):
        return CallableForcing(force)
    raise TypeError(f"expected a Forcing module, a callable force(q0, q1, u) or None, got {type(force).__name__}")


class DiscreteForcing(Forcing):
    """Learned midpoint forcing (h/2)·[B u - R v̄] with R = DDᵀ positive semidefinite.

    With ``state_dependent=False`` (default) B and D are learned constants: the forcing is affine and the
    separable Lagrangian keeps its explicit step. With ``state_dependent=True`` an MLP of q̄ gives B(q̄), D(q̄).
    ``dissipation=False`` drops the R term; ``action_dim=0`` drops the input term (dissipation only).
    """

    def __init__(
        self,
        dim: int,
        action_dim: int,
        dt: float,
        *,
        dissipation: bool = True,
        state_dependent: bool = False,
        hidden: int = 128,
        depth: int = 2,
        input_scale: float = 1.0,
        damping_init: float = 0.1,
    ) -> None:
        super().__init__()
        if not dt > 0:
            raise ValueError(f"the time step dt must be positive, got {dt}")
        if action_dim < 0 or dim < 1:
            raise ValueError(f"need dim >= 1 and action_dim >= 0, got dim={dim}, action_dim={action_dim}")
        self.dim, self.action_dim, self.dt = dim, action_dim, float(dt)
        self.dissipation, self.state_dependent = dissipation, state_dependent
        self.linear = not state_dependent
        n_out = dim * action_dim + (dim * dim if dissipation else 0)
        if state_dependent:
            self.net = mlp(dim, max(n_out, 1), hidden, depth)
        else:
            self.input_map = nn.Parameter(torch.randn(dim, action_dim) * input_scale / max(action_dim, 1) ** 0.5)
            if dissipation:
                self.damping_factor = nn.Parameter(damping_init * torch.eye(dim))

    def _matrices(self, qbar: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """B of shape (..., dim, action_dim) and R of shape (..., dim, dim) (None without dissipation)."""
        if self.state_dependent:
            if qbar is None:
                raise ValueError("a state-dependent forcing needs the midpoint q̄")
            out = self.net(qbar)
            n_in = self.dim * self.action_dim
            b = out[..., :n_in].reshape(*qbar.shape[:-1], self.dim, self.action_dim)
            d = out[..., n_in : n_in + self.dim * self.dim].reshape(*qbar.shape[:-1], self.dim, self.dim) if self.dissipation else None
        else:
            b, d = self.input_map, (self.damping_factor if self.dissipation else None)
        if d is not None:
            d = torch.tril(d)
            return b, d @ d.mT
        return b, None

    def input_matrix(self, qbar: Tensor | None = None) -> Tensor:
        """B(q̄); a constant (dim, action_dim) matrix unless state-dependent."""
        return self._matrices(qbar)[0]

    def dissipation_matrix(self, qbar: Tensor | None = None) -> Tensor | None:
        """R(q̄) = DDᵀ (positive semidefinite), or None without dissipation."""
        return self._matrices(qbar)[1]

    def forward(self, q0: Tensor, q1: Tensor, u: Tensor | None) -> ForcingTerms:
        qbar, vbar = 0.5 * (q0 + q1), (q1 - q0) / self.dt
        b, r = self._matrices(qbar if self.state_dependent else None)
        force = torch.zeros_like(q0)
        if u is not None and self.action_dim > 0:
            if u.shape[-1] != self.action_dim:
                raise ValueError(f"actions must have {self.action_dim} components, got shape {tuple(u.shape)}")
            force = force + _apply(b.to(q0.dtype), u.to(q0.dtype))
        if r is not None:
            r = r.to(q0.dtype)
            force = force - _apply(r, vbar)
        force = 0.5 * self.dt * force
        return ForcingTerms(force, force, r)


def _apply(matrix: Tensor, x: Tensor) -> Tensor:
    """matrix @ x for a constant (n, k) matrix or a batch (batch, n, k) of them, x of shape (batch, k)."""
    if matrix.dim() == 2:
        return x @ matrix.mT
    return (matrix @ x.unsqueeze(-1)).squeeze(-1)
