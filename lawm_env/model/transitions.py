"""Latent transitions with one interface: the forced DEL step (LaWM) and an unconstrained MLP (baseline).

Both advance a state holding the pair (q_{k-1}, q_k) under an action u_k; ``start`` builds the state of a pair
reached under u_{k-1}. The world model, env, planners and agents only use ``start`` and ``step``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from lawm_env.mechanics import (
    DELInfo,
    DELState,
    DELStepper,
    DiscreteForcing,
    MechanicalLagrangian,
    SeparableLagrangian,
    discrete_momentum,
    energy,
)
from lawm_env.mechanics.angles import angle_features, check_angles, unwrap_near
from lawm_env.networks import mlp


CONDITION_LIMIT = 100.0
"""cond M(q) above which the ``conditioning`` regularizer acts: masses of encoded real cartpole frames sit near 90,
while the default model's failed DEL solves were at 243 to 11,800 (docs/robustness.md)."""


class TransitionState(NamedTuple):
    """The pair (q_{k-1}, q_k), the action u_{k-1} that led to q_k, and what the transition carries along
    (``inner``: the DEL solver's own state, private to the transition)."""

    q_prev: Tensor
    q: Tensor
    u_prev: Tensor | None = None
    inner: DELState | None = None


def _no_solver_info(q: Tensor) -> DELInfo:
    batch = q.shape[0]
    return DELInfo(torch.zeros(batch, dtype=torch.long, device=q.device), q.new_zeros(batch), torch.ones(batch, dtype=torch.bool, device=q.device))


class DELTransition(nn.Module):
    """q_{k+1} solves the forced discrete Euler–Lagrange equation of a learned Lagrangian; the action enters
    only through the discrete forcing.

    With ``substeps`` = n > 1, one step of ``dt`` is n DEL steps of dt/n with the action held: the pair
    (q_{k-1}, q_k) stays one step of ``dt`` apart (what the decoder, reward head and callers see), while the
    integrator's own state advances at the finer step, so a fast motion is not taken in one implicit jump.
    """

    def __init__(
        self,
        latent_dim: int,
        action_dim: int,
        dt: float = 0.1,
        *,
        lagrangian: str = "mechanical",
        hidden: int = 128,
        depth: int = 2,
        tol: float | None = None,
        rtol: float = 0.0,
        max_iter: int = 20,
        substeps: int = 1,
        angles: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(substeps, int) or substeps < 1:
            raise ValueError(f"substeps must be a positive integer, got {substeps!r}")
        self.substeps, self.angles = substeps, check_angles(angles, latent_dim)
        fine_dt = dt / substeps
        if lagrangian == "mechanical":
            self.lagrangian = MechanicalLagrangian(latent_dim, fine_dt, hidden=hidden, depth=depth, angles=angles)
        elif lagrangian == "separable":
            self.lagrangian = SeparableLagrangian(latent_dim, fine_dt, hidden=hidden, depth=depth, angles=angles)
        else:
            raise ValueError(f"lagrangian must be 'mechanical' or 'separable', got {lagrangian!r}")
        self.forcing = DiscreteForcing(latent_dim, action_dim, fine_dt)
        self.stepper = DELStepper(self.lagrangian, self.forcing, tol=tol, rtol=rtol, max_iter=max_iter, rescue=True)

    def _fine(self, q: Tensor, q_other: Tensor) -> Tensor:
        """The point one fine step from ``q`` towards ``q_other`` (one step of ``dt`` away), at constant velocity;
        angles of ``q_other`` are first taken within π of those of ``q``."""
        q_other = unwrap_near(q_other, q, self.angles)
        return q_other if self.substeps == 1 else q + (q_other - q) / self.substeps

    def start(self, q_prev: Tensor, q: Tensor, u_prev: Tensor) -> TransitionState:
        """The pair (q_{k-1}, q_k), one step of ``dt`` apart; the integrator starts from the last fine step of
        that interval, at the pair's constant velocity (angles turn by less than π per step)."""
        return TransitionState(unwrap_near(q_prev, q, self.angles), q, u_prev, self.stepper.start(self._fine(q, q_prev), q, u_prev))

    def step(self, state: TransitionState, u: Tensor, active: Tensor | None = None) -> tuple[TransitionState, DELInfo]:
        """One step of ``dt``: ``substeps`` DEL solves with ``u`` held. The report sums the Newton iterations,
        keeps the largest residual, and counts the step converged only if every solve converged. Rows of
        ``active`` (batch,) set False are not solved (``DELStepper.step``); with ``active`` given, a row whose
        solve fails is not solved again in the later substeps."""
        inner, info = self.stepper.step(state.inner, u, active)
        for _ in range(self.substeps - 1):
            inner, more = self.stepper.step(inner, u, None if active is None else active & info.converged)
            info = DELInfo(info.iterations + more.iterations, torch.maximum(info.residual, more.residual), info.converged & more.converged)
        return TransitionState(state.q, inner.q, u, inner), info

    def residual(self, q_prev: Tensor, q: Tensor, q_next: Tensor, u_prev: Tensor, u: Tensor) -> Tensor:
        """DEL residual at q_k of given triples (batch, dim) one step of ``dt`` apart; differentiable. With
        substeps, the residual of the fine step at q_k with neighbours one fine step away on the straight
        lines to q_{k-1} and q_{k+1}. Angles of the neighbours are taken within π of those of q_k."""
        q_prev, q_next = self._fine(q, q_prev), self._fine(q, q_next)
        part_prev, part = self.lagrangian.partials(q_prev, q), self.lagrangian.partials(q, q_next)
        f_prev, f = self.forcing(q_prev, q, u_prev), self.forcing(q, q_next, u)
        return part_prev.d2 + f_prev.plus + part.d1 + f.minus

    @property
    def max_iter(self) -> int:
        """Newton iteration limit of each DEL solve."""
        return self.stepper.max_iter

    @max_iter.setter
    def max_iter(self, value: int) -> None:
        self.stepper.max_iter = value

    def regularizers(self, q: Tensor, actions: Tensor, visited: Tensor | None = None) -> tuple[dict[str, Tensor], dict[str, float]]:
        """Training terms on encoded sequences q (B, T, d) under actions (B, T-1, m): ``residual``, the mean squared
        DEL residual of the encoded triples, and ``mass``, the mean squared log mass scale (which keeps the mass
        from absorbing the encoder's scale); with ``visited`` configurations (N, d) given, ``conditioning``, the
        mean squared excess of log cond M(q) over log ``CONDITION_LIMIT`` there (gradients reach the Lagrangian
        only). Diagnostics: ``log_mass``, the mean log mass scale, and with ``visited``, ``condition_max``."""
        flat = lambda x: x.flatten(0, 1)  # noqa: E731
        residual = self.residual(flat(q[:, :-2]), flat(q[:, 1:-1]), flat(q[:, 2:]), flat(actions[:, :-1]), flat(actions[:, 1:]))
        log_mass = self.log_mass_scale(flat(q))
        terms = {"residual": residual.square().sum(-1).mean(), "mass": log_mass.square().mean()}
        report = {"log_mass": float(log_mass.detach().mean())}
        if visited is not None:
            log_condition = self.log_mass_condition(visited.detach())
            terms["conditioning"] = (log_condition - math.log(CONDITION_LIMIT)).clamp(min=0).square().mean()
            report["condition_max"] = float(log_condition.detach().max().exp())
        return terms, report

    def energy(self, state: TransitionState) -> Tensor:
        """Latent energy ½ pᵀM(q)⁻¹p + V(q) at the state's current configuration, per sample."""
        inner = state.inner
        p = inner.momentum
        if p is None:
            p = discrete_momentum(self.lagrangian, inner.q_prev, inner.q, self.forcing, inner.u_prev)
        return energy(self.lagrangian, inner.q, p)

    def log_mass_scale(self, q: Tensor) -> Tensor:
        """(1/d)·log det M(q) per sample: zero when the mass has unit scale."""
        return torch.logdet(self.lagrangian.mass(q)) / q.shape[-1]

    def log_mass_condition(self, q: Tensor) -> Tensor:
        """log cond M(q) = log(λ_max / λ_min) per sample (batch, dim) → (batch,)."""
        eigenvalues = torch.linalg.eigvalsh(self.lagrangian.mass(q))
        return eigenvalues[..., -1].log() - eigenvalues[..., 0].log()


class MLPTransition(nn.Module):
    """The unconstrained baseline: q_{k+1} = q_k + MLP(φ(q_{k-1}), φ(q_k), u_k), φ the angle features (q itself
    without angles)."""

    def __init__(self, latent_dim: int, action_dim: int, *, hidden: int = 128, depth: int = 2, angles: int = 0) -> None:
        super().__init__()
        self.angles = check_angles(angles, latent_dim)
        self.net = mlp(2 * (latent_dim + angles) + action_dim, latent_dim, hidden, depth)

    max_iter = None
    """No solver: no iteration limit."""

    def start(self, q_prev: Tensor, q: Tensor, u_prev: Tensor) -> TransitionState:
        return TransitionState(unwrap_near(q_prev, q, self.angles), q, u_prev)

    def step(self, state: TransitionState, u: Tensor, active: Tensor | None = None) -> tuple[TransitionState, DELInfo]:
        """q_{k+1} for every row (``active`` is accepted for a common signature: there is nothing to skip)."""
        features = [angle_features(state.q_prev, self.angles), angle_features(state.q, self.angles)]
        q_next = state.q + self.net(torch.cat([*features, u], -1))
        return TransitionState(state.q, q_next, u), _no_solver_info(q_next)

    def regularizers(self, q: Tensor, actions: Tensor, visited: Tensor | None = None) -> tuple[dict[str, Tensor], dict[str, float]]:
        """No physics terms for the unconstrained baseline."""
        return {}, {}

    def log_mass_condition(self, q: Tensor) -> Tensor:
        """The baseline has no mass: NaN per sample."""
        return torch.full_like(q[..., 0], float("nan"))

    def energy(self, state: TransitionState) -> Tensor:
        """The baseline has no energy: NaN per sample."""
        return torch.full_like(state.q[..., 0], float("nan"))


def merge_states(mask: Tensor, new: TransitionState, old: TransitionState) -> TransitionState:
    """Rows ``mask`` from ``new``, the others from ``old`` (both of the full batch), for partial resets."""
    def pick(a, b):
        if a is None and b is None:
            return None
        a = torch.zeros_like(b) if a is None else a
        b = torch.zeros_like(a) if b is None else b
        return torch.where(mask.view(-1, *([1] * (a.dim() - 1))), a, b)

    inner = None
    if new.inner is not None:
        inner = DELState(*(pick(a, b) for a, b in zip(new.inner, old.inner)))
    return TransitionState(pick(new.q_prev, old.q_prev), pick(new.q, old.q), pick(new.u_prev, old.u_prev), inner)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def matched_mlp_hidden(target: int, inputs: int, outputs: int, depth: int) -> int:
    """Hidden width of an MLP (``inputs`` → ``outputs``, ``depth`` hidden layers) whose parameter count is
    closest to ``target``."""
    def count(width: int) -> int:
        return inputs * width + width + (depth - 1) * (width * width + width) + width * outputs + outputs

    return min(range(1, 4096), key=lambda w: abs(count(w) - target))
