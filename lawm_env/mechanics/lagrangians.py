"""Discrete Lagrangians L_d(q0, q1) ≈ ∫ L dt over one step of size ``dt``, and their partial derivatives.

Every Lagrangian maps a batch of configuration pairs (batch, dim) to (batch,) and exposes
``partials(q0, q1)``: D1 L_d, D2 L_d and, where the structure gives it, the mass matrix that dominates the
Jacobian of the DEL residual (∂/∂q1 D1 L_d ≈ -M/dt). The solver uses that matrix for a cheap structured
Newton step; without it (arbitrary user callables) it falls back to the exact Jacobian from autograd.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lawm_env.mechanics.autodiff import grad_enabled_input, input_gradients
from lawm_env.networks import mlp

PotentialFn = Callable[[Tensor], Tensor]
MassFn = Callable[[Tensor], Tensor]


class Partials(NamedTuple):
    """Partial derivatives of L_d at a batch of pairs (q0, q1)."""

    d1: Tensor
    """D1 L_d(q0, q1), shape (batch, dim)."""
    d2: Tensor
    """D2 L_d(q0, q1), shape (batch, dim)."""
    mass: Tensor | None
    """Mass matrix M with ∂(D1 L_d)/∂q1 ≈ -M/dt, shape (batch, dim, dim) or (dim, dim); None if unknown."""


class DiscreteLagrangian(nn.Module):
    """Base class: a discrete Lagrangian with time step ``dt``; ``partials`` defaults to autograd.

    ``explicit`` is True when D1 L_d(q0, q1) is affine in q1 with Jacobian exactly -M/dt, so the forced DEL
    equation (with forcing affine in q1) is solved by one linear solve: Störmer–Verlet.
    """

    explicit: bool = False

    def __init__(self, dt: float) -> None:
        super().__init__()
        if not dt > 0:
            raise ValueError(f"the time step dt must be positive, got {dt}")
        self.dt = float(dt)

    def partials(self, q0: Tensor, q1: Tensor) -> Partials:
        """D1 and D2 of L_d by autograd; differentiable when grad mode is on."""
        create = torch.is_grad_enabled()
        with torch.enable_grad():
            a, b = grad_enabled_input(q0), grad_enabled_input(q1)
            d1, d2 = input_gradients(self(a, b), (a, b), create_graph=create)
        if not create:
            d1, d2 = d1.detach(), d2.detach()
        return Partials(d1, d2, None)


class CallableLagrangian(DiscreteLagrangian):
    """Wraps any callable ``fn(q0, q1) -> (batch,)`` written with torch ops (analytic or learned).

    Gradients reach the parameters of ``fn`` when it is an ``nn.Module``, and any tensor it captures.
    """

    def __init__(self, fn: Callable[[Tensor, Tensor], Tensor], dt: float = 1.0) -> None:
        super().__init__(dt)
        self.fn = fn

    def forward(self, q0: Tensor, q1: Tensor) -> Tensor:
        value = self.fn(q0, q1)
        if value.shape != q0.shape[:-1]:
            raise ValueError(f"the Lagrangian callable must return shape {tuple(q0.shape[:-1])}, got {tuple(value.shape)}")
        return value


def as_lagrangian(lagrangian: DiscreteLagrangian | Callable[[Tensor, Tensor], Tensor]) -> DiscreteLagrangian:
    """Return ``lagrangian`` as a DiscreteLagrangian, wrapping a plain callable."""
    if isinstance(lagrangian, DiscreteLagrangian):
        return lagrangian
    if callable(lagrangian):
        return CallableLagrangian(lagrangian)
    raise TypeError(f"expected a DiscreteLagrangian or a callable L_d(q0, q1), got {type(lagrangian).__name__}")


def positive_definite_factor(raw: Tensor, dim: int) -> Tensor:
    """Lower-triangular factor from unconstrained values: strict lower part as is, softplus on the diagonal.

    ``raw`` has shape (..., dim, dim); entries above the diagonal are ignored.
    """
    eye = torch.eye(dim, dtype=raw.dtype, device=raw.device, requires_grad=False)
    lower = torch.tril(raw, diagonal=-1)
    return lower + eye * F.softplus(raw)


def _potential_values(fn: PotentialFn, q: Tensor) -> Tensor:
    value = fn(q)
    if value.dim() == q.dim() and value.shape[-1] == 1:
        value = value.squeeze(-1)
    if value.shape != q.shape[:-1]:
        raise ValueError(f"the potential must return shape {tuple(q.shape[:-1])} (or with a trailing 1), got {tuple(value.shape)}")
    return value


class SeparableLagrangian(DiscreteLagrangian):
    """Constant mass, trapezoid potential: L_d = (1/2h)(q1-q0)ᵀM(q1-q0) - (h/2)(V(q0) + V(q1)).

    Its forced DEL is explicit (Störmer–Verlet). The mass is learned as M = LLᵀ + eps·I unless a fixed
    positive-definite ``mass`` is given; the potential is an MLP unless a callable ``potential`` is given.
    """

    explicit = True

    def __init__(
        self,
        dim: int,
        dt: float,
        *,
        hidden: int = 128,
        depth: int = 2,
        potential: PotentialFn | None = None,
        mass: Tensor | None = None,
        eps: float = 1e-3,
    ) -> None:
        super().__init__(dt)
        self.dim, self.eps = dim, eps
        self.potential_fn: PotentialFn = potential if potential is not None else _ScalarMLP(dim, hidden, depth)
        if mass is None:
            self.mass_raw = nn.Parameter(torch.eye(dim))
        else:
            mass = torch.as_tensor(mass)
            if mass.shape != (dim, dim) or not torch.allclose(mass, mass.mT) or torch.linalg.eigvalsh(mass.double()).min() <= 0:
                raise ValueError(f"mass must be a symmetric positive-definite ({dim}, {dim}) matrix")
            self.register_buffer("fixed_mass", mass.clone())

    def mass_matrix(self) -> Tensor:
        """The constant mass matrix, shape (dim, dim)."""
        if hasattr(self, "fixed_mass"):
            return self.fixed_mass
        factor = positive_definite_factor(self.mass_raw, self.dim)
        return factor @ factor.mT + self.eps * torch.eye(self.dim, dtype=factor.dtype, device=factor.device)

    def mass(self, q: Tensor) -> Tensor:
        """M(q) broadcast to the batch, shape (batch, dim, dim)."""
        return self.mass_matrix().to(q.dtype).expand(*q.shape[:-1], self.dim, self.dim)

    def potential(self, q: Tensor) -> Tensor:
        return _potential_values(self.potential_fn, q)

    def grad_potential(self, q: Tensor) -> Tensor:
        """∇V(q), shape (batch, dim); differentiable when grad mode is on."""
        create = torch.is_grad_enabled()
        with torch.enable_grad():
            x = grad_enabled_input(q)
            (g,) = input_gradients(self.potential(x), (x,), create_graph=create)
        return g if create else g.detach()

    def forward(self, q0: Tensor, q1: Tensor) -> Tensor:
        dq = q1 - q0
        mass = self.mass_matrix().to(dq.dtype)
        kinetic = 0.5 / self.dt * ((dq @ mass) * dq).sum(-1)
        return kinetic - 0.5 * self.dt * (self.potential(q0) + self.potential(q1))

    def partials(self, q0: Tensor, q1: Tensor) -> Partials:
        mass = self.mass_matrix().to(q0.dtype)
        momentum = (q1 - q0) @ mass / self.dt
        half = 0.5 * self.dt
        return Partials(-momentum - half * self.grad_potential(q0), momentum - half * self.grad_potential(q1), mass)


class MidpointRule(DiscreteLagrangian):
    """Midpoint rule: L_d = h·[½ v̄ᵀ M(q̄) v̄ - V(q̄)], q̄ = (q0+q1)/2, v̄ = (q1-q0)/h; implicit in general.

    Subclasses define ``mass(q) -> (batch, dim, dim)`` (symmetric positive definite) and
    ``potential(q) -> (batch,)``. Both partials share one evaluation:
    D1 = A - M v̄ and D2 = A + M v̄ with A = h·[g/4 - ∇V/2], g = ∂_q(v̄ᵀM(q)v̄) at q̄.
    """

    def mass(self, q: Tensor) -> Tensor:
        raise NotImplementedError

    def potential(self, q: Tensor) -> Tensor:
        raise NotImplementedError

    def midpoint_terms(self, q: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(M(q)v, vᵀM(q)v, V(q), M(q)) at a batch of midpoints ``q`` with velocities ``v``."""
        mass = self.mass(q)
        mv = (mass @ v.unsqueeze(-1)).squeeze(-1)
        return mv, (mv * v).sum(-1), self.potential(q), mass

    def forward(self, q0: Tensor, q1: Tensor) -> Tensor:
        _, quad, potential, _ = self.midpoint_terms(0.5 * (q0 + q1), (q1 - q0) / self.dt)
        return self.dt * (0.5 * quad - potential)

    def partials(self, q0: Tensor, q1: Tensor) -> Partials:
        create = torch.is_grad_enabled()
        h = self.dt
        qbar, vbar = 0.5 * (q0 + q1), (q1 - q0) / h
        with torch.enable_grad():
            z = grad_enabled_input(qbar)
            mv, quad, potential, mass = self.midpoint_terms(z, vbar if create else vbar.detach())
            (a,) = input_gradients(0.25 * h * quad - 0.5 * h * potential, (z,), create_graph=create)
        if not create:
            a, mv, mass = a.detach(), mv.detach(), mass.detach()
        return Partials(a - mv, a + mv, mass)


class MidpointLagrangian(MidpointRule):
    """Midpoint-rule Lagrangian from callables ``mass_fn(q) -> (batch, dim, dim)`` and ``potential_fn(q)``."""

    def __init__(self, mass_fn: MassFn, potential_fn: PotentialFn, dt: float) -> None:
        super().__init__(dt)
        self.mass_fn, self.potential_fn = mass_fn, potential_fn

    def mass(self, q: Tensor) -> Tensor:
        return self.mass_fn(q)

    def potential(self, q: Tensor) -> Tensor:
        return _potential_values(self.potential_fn, q)


class _ScalarMLP(nn.Module):
    """An MLP with a scalar output per sample, shape (batch,)."""

    def __init__(self, dim: int, hidden: int, depth: int) -> None:
        super().__init__()
        self.net = mlp(dim, 1, hidden, depth)

    def forward(self, q: Tensor) -> Tensor:
        return self.net(q).squeeze(-1)


class MechanicalLagrangian(MidpointRule):
    """Learned midpoint Lagrangian with M(q) = C(q)C(q)ᵀ + eps·I and an MLP potential V(q).

    One MLP trunk outputs the dim(dim+1)/2 entries of the lower-triangular factor C(q) (softplus on its
    diagonal, so M is always positive definite) and the potential: one pass gives both.
    """

    def __init__(self, dim: int, dt: float, *, hidden: int = 128, depth: int = 2, eps: float = 1e-3) -> None:
        super().__init__(dt)
        self.dim, self.eps = dim, eps
        rows, cols = torch.tril_indices(dim, dim)
        self.register_buffer("_flat_index", rows * dim + cols, persistent=False)
        self.register_buffer("_diagonal", (rows == cols), persistent=False)
        self.trunk = mlp(dim, rows.numel() + 1, hidden, depth)

    def factor_and_potential(self, q: Tensor) -> tuple[Tensor, Tensor]:
        """C(q) of shape (batch, dim, dim) and V(q) of shape (batch,) from one trunk pass."""
        out = self.trunk(q)
        raw, potential = out[..., :-1], out[..., -1]
        entries = torch.where(self._diagonal, F.softplus(raw), raw)
        flat = entries.new_zeros(*entries.shape[:-1], self.dim * self.dim)
        factor = flat.index_copy(-1, self._flat_index, entries).view(*entries.shape[:-1], self.dim, self.dim)
        return factor, potential

    def mass(self, q: Tensor) -> Tensor:
        return self._assemble_mass(self.factor_and_potential(q)[0])

    def potential(self, q: Tensor) -> Tensor:
        return self.factor_and_potential(q)[1]

    def _assemble_mass(self, factor: Tensor) -> Tensor:
        eye = torch.eye(self.dim, dtype=factor.dtype, device=factor.device)
        return factor @ factor.mT + self.eps * eye

    def midpoint_terms(self, q: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        factor, potential = self.factor_and_potential(q)
        w = (factor.mT @ v.unsqueeze(-1)).squeeze(-1)  # Cᵀv
        mv = (factor @ w.unsqueeze(-1)).squeeze(-1) + self.eps * v
        quad = (w * w).sum(-1) + self.eps * (v * v).sum(-1)
        return mv, quad, potential, self._assemble_mass(factor.detach())
