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

from lawm_env.mechanics.angles import angle_features, angle_features_vjp, check_angles
from lawm_env.mechanics.autodiff import grad_enabled_input, input_gradients
from lawm_env.mechanics.linalg import factor_mass, unpack_factor
from lawm_env.networks import is_silu_mlp, mlp, silu_mlp_hidden, silu_mlp_input_gradient

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
    mass_factor: Tensor | None = None
    """Lower-triangular C with M ≈ CCᵀ as packed row-major entries (dim(dim+1)/2, batch); None if unknown."""


class MidpointTerms(NamedTuple):
    """Quantities of the midpoint rule at a batch of midpoints q with velocities v."""

    mv: Tensor
    """M(q) v, shape (batch, dim)."""
    quad: Tensor
    """vᵀ M(q) v, shape (batch,)."""
    potential: Tensor
    """V(q), shape (batch,)."""
    mass: Tensor | None
    """M(q) (batch, dim, dim), detached, when cheap to provide."""
    factor: Tensor | None
    """Packed row-major entries of C(q) (M ≈ CCᵀ) as (dim(dim+1)/2, batch), detached, when available."""


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

    def mass_and_potential(self, q: Tensor) -> tuple[Tensor, Tensor]:
        """M(q) and V(q) for Lagrangians that define ``mass`` and ``potential`` (one pass where they share one)."""
        return self.mass(q), self.potential(q)  # type: ignore[attr-defined]

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
    positive-definite ``mass`` is given; the potential is an MLP unless a callable ``potential`` is given. With
    ``angles`` = k the learned potential reads (cos θ, sin θ, x) of the first k (angular) coordinates.
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
        angles: int = 0,
    ) -> None:
        super().__init__(dt)
        self.dim, self.eps = dim, eps
        check_angles(angles, dim)
        self.potential_fn: PotentialFn = potential if potential is not None else _ScalarMLP(dim, hidden, depth, angles)
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
        """∇V(q), shape (batch, dim); differentiable when grad mode is on (by hand outside it)."""
        net = getattr(self.potential_fn, "net", None)
        if not torch.is_grad_enabled() and isinstance(self.potential_fn, _ScalarMLP) and is_silu_mlp(net):
            angles = self.potential_fn.angles
            _, pre_activations = silu_mlp_hidden(net, angle_features(q, angles))
            grad = silu_mlp_input_gradient(net, pre_activations, net[-1].weight.expand(q.shape[0], -1))
            return angle_features_vjp(q, grad, angles)
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

    def midpoint_terms(self, q: Tensor, v: Tensor) -> MidpointTerms:
        """M(q)v, vᵀM(q)v, V(q) and M(q) at a batch of midpoints ``q`` with velocities ``v``."""
        mass = self.mass(q)
        mv = (mass @ v.unsqueeze(-1)).squeeze(-1)
        return MidpointTerms(mv, (mv * v).sum(-1), self.potential(q), mass.detach(), None)

    def forward(self, q0: Tensor, q1: Tensor) -> Tensor:
        terms = self.midpoint_terms(0.5 * (q0 + q1), (q1 - q0) / self.dt)
        return self.dt * (0.5 * terms.quad - terms.potential)

    def partials(self, q0: Tensor, q1: Tensor) -> Partials:
        create = torch.is_grad_enabled()
        h = self.dt
        qbar, vbar = 0.5 * (q0 + q1), (q1 - q0) / h
        with torch.enable_grad():
            z = grad_enabled_input(qbar)
            terms = self.midpoint_terms(z, vbar if create else vbar.detach())
            (a,) = input_gradients(0.25 * h * terms.quad - 0.5 * h * terms.potential, (z,), create_graph=create)
        mv = terms.mv
        if not create:
            a, mv = a.detach(), mv.detach()
        return Partials(a - mv, a + mv, terms.mass, terms.factor)


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
    """An MLP of the features φ(q) with a scalar output per sample, shape (batch,)."""

    def __init__(self, dim: int, hidden: int, depth: int, angles: int = 0) -> None:
        super().__init__()
        self.angles = angles
        self.net = mlp(dim + angles, 1, hidden, depth)

    def forward(self, q: Tensor) -> Tensor:
        return self.net(angle_features(q, self.angles)).squeeze(-1)


class MechanicalLagrangian(MidpointRule):
    """Learned midpoint Lagrangian with M(q) = C(q)C(q)ᵀ + eps·I and an MLP potential V(q).

    With ``angles`` = k the first k coordinates are angles: the trunk reads (cos θ, sin θ, x), so M and V are
    2π-periodic in each angle (see :mod:`lawm_env.mechanics.angles`).

    One MLP trunk outputs the dim(dim+1)/2 entries of the lower-triangular factor C(q) (row-major packed,
    softplus on the diagonal, so M is always positive definite) and the potential: one pass gives both. The
    last layer is evaluated transposed, so the packed entries come out structure-of-arrays (entries, batch)
    and the products with v are gathers and sums vectorized across the batch. Outside grad mode, ``partials``
    runs a hand-derived backward pass (the solver's hot path); in grad mode it uses autograd.
    Configurations are (batch, dim).
    """

    def __init__(self, dim: int, dt: float, *, hidden: int = 128, depth: int = 2, eps: float = 1e-3, angles: int = 0) -> None:
        super().__init__(dt)
        self.dim, self.eps, self.angles = dim, eps, check_angles(angles, dim)
        rows, cols = torch.tril_indices(dim, dim)
        eye = torch.eye(dim)
        # 0/1 matrices that gather the packed entries' row and column coordinates: the products with C are dense
        # matrix products across the batch, deterministic on every device (a scatter-add is not on CUDA)
        self.register_buffer("_select_rows", eye[rows], persistent=False)
        self.register_buffer("_select_cols", eye[cols], persistent=False)
        self.register_buffer("_diagonal", (rows == cols).nonzero().squeeze(-1), persistent=False)
        self.trunk = mlp(dim + angles, rows.numel() + 1, hidden, depth)

    def packed_factor_and_potential(self, q: Tensor) -> tuple[Tensor, Tensor]:
        """Packed C(q) entries as (entries, batch) and V(q) as (batch,) from one trunk pass."""
        if q.dim() != 2:
            raise ValueError(f"MechanicalLagrangian expects configurations of shape (batch, dim), got {tuple(q.shape)}")
        out = self._last_layer_transposed(self.trunk[:-1](angle_features(q, self.angles)))
        raw, potential = out[:-1], out[-1]
        diag = self._diagonal
        return raw.index_copy(0, diag, F.softplus(raw.index_select(0, diag))), potential

    def _last_layer_transposed(self, hidden: Tensor) -> Tensor:
        last: nn.Linear = self.trunk[-1]  # type: ignore[assignment]
        return torch.addmm(last.bias.unsqueeze(1), last.weight, hidden.mT)

    def factor_and_potential(self, q: Tensor) -> tuple[Tensor, Tensor]:
        """C(q) as (batch, dim, dim) and V(q) as (batch,)."""
        entries, potential = self.packed_factor_and_potential(q)
        return unpack_factor(entries, self.dim), potential

    def mass_and_potential(self, q: Tensor) -> tuple[Tensor, Tensor]:
        entries, potential = self.packed_factor_and_potential(q)
        return factor_mass(entries, self.dim, self.eps), potential

    def mass(self, q: Tensor) -> Tensor:
        return self.mass_and_potential(q)[0]

    def potential(self, q: Tensor) -> Tensor:
        return self.packed_factor_and_potential(q)[1]

    def _products(self, entries: Tensor, vs: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """From packed C and v (dim, batch): v gathered by the entries' rows, w = Cᵀv, w gathered by the entries'
        columns, and M v = C w + eps·v."""
        v_rows = self._select_rows @ vs
        w = self._select_cols.mT @ (entries * v_rows)
        w_cols = self._select_cols @ w
        mv = torch.addmm(vs, self._select_rows.mT, entries * w_cols, beta=self.eps)
        return v_rows, w, w_cols, mv

    def midpoint_terms(self, q: Tensor, v: Tensor) -> MidpointTerms:
        entries, potential = self.packed_factor_and_potential(q)
        vs = v.mT.contiguous()
        _, w, _, mv = self._products(entries, vs)
        quad = (w * w).sum(0) + self.eps * (vs * vs).sum(0)
        return MidpointTerms(mv.mT, quad, potential, None, entries.detach())

    def partials(self, q0: Tensor, q1: Tensor) -> Partials:
        if torch.is_grad_enabled():
            return super().partials(q0, q1)
        return self._partials_by_hand(q0, q1)

    def _partials_by_hand(self, q0: Tensor, q1: Tensor) -> Partials:
        """D1, D2 with A = ∂/∂q̄ [h/4·v̄ᵀM v̄ - h/2·V] back-propagated by hand (SiLU trunks; else autograd)."""
        h = self.dt
        qbar, vs = 0.5 * (q0 + q1), ((q1 - q0) / h).mT.contiguous()
        if not is_silu_mlp(self.trunk):
            return super().partials(q0, q1)
        a, pre_activations = silu_mlp_hidden(self.trunk, angle_features(qbar, self.angles))
        out = self._last_layer_transposed(a)
        raw, diag = out[:-1], self._diagonal
        raw_diag = raw.index_select(0, diag)
        entries = raw.index_copy(0, diag, F.softplus(raw_diag))
        v_rows, _, w_cols, mv = self._products(entries, vs)
        # ∂/∂C_ij of h/4·|Cᵀv|² is h/2·v_i·w_j; softplus' = sigmoid on the diagonal; ∂/∂V is -h/2.
        grad_entries = (0.5 * h) * v_rows * w_cols
        grad_raw = grad_entries.index_copy(0, diag, grad_entries.index_select(0, diag) * torch.sigmoid(raw_diag))
        last = self.trunk[-1].weight
        grad_hidden = torch.addmm(last[-1], grad_raw.mT, last[:-1], beta=-0.5 * h)
        grad = silu_mlp_input_gradient(self.trunk, pre_activations, grad_hidden)
        grad = angle_features_vjp(qbar, grad, self.angles)
        mv = mv.mT
        return Partials(grad - mv, grad + mv, None, entries)
