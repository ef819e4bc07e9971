"""Physics oracles: bounded energy error, Noether momentum, dissipation and impulse."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lawm_env.mechanics import DiscreteForcing, MidpointLagrangian, discrete_momentum, energy, rollout
from tests.mechanics_systems import (
    angular_momentum,
    central_force_callable,
    central_force_midpoint,
    harmonic_potential,
    pendulum_potential,
    separable,
)


def _trajectory_energy(lag, q0, q1, horizon, force=None):
    traj = torch.cat([q0[:, None], q1[:, None], rollout(lag, q0, q1, None, force, horizon=horizon).positions], 1)
    p = discrete_momentum(lag, traj[:, :-1], traj[:, 1:], force)
    return energy(lag, traj[:, 1:], p), traj, p


def _slope(values: np.ndarray, dt: float) -> float:
    t = np.arange(values.shape[-1]) * dt
    return float(np.polyfit(t, values, 1)[0])


def _rk4_energy(grad_v, potential, q, v, dt, steps):
    """Energy of an RK4 run of q'' = -∇V(q) (unit mass) over ``steps`` steps."""
    out = np.empty(steps)
    for i in range(steps):
        def f(x, y):
            return y, -grad_v(x)
        k1 = f(q, v)
        k2 = f(q + 0.5 * dt * k1[0], v + 0.5 * dt * k1[1])
        k3 = f(q + 0.5 * dt * k2[0], v + 0.5 * dt * k2[1])
        k4 = f(q + dt * k3[0], v + dt * k3[1])
        q = q + dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        v = v + dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        out[i] = 0.5 * v @ v + potential(q)
    return out


SYSTEMS = {
    "harmonic": (harmonic_potential(4.0), lambda q: 4.0 * q, lambda q: 2.0 * q @ q),
    "pendulum": (pendulum_potential(), lambda q: np.sin(q), lambda q: -np.cos(q[0])),
}


def _lagrangian(rule: str, potential, dt: float):
    if rule == "separable":
        return separable(1, dt, potential)
    eye = torch.eye(1, dtype=torch.float64)
    return MidpointLagrangian(lambda q: eye.expand(q.shape[0], 1, 1), potential, dt)


@pytest.mark.parametrize(
    "rule, steps",
    [("separable", 100_000), ("midpoint", 10_000), pytest.param("midpoint", 100_000, marks=pytest.mark.slow)],
    ids=["separable-100k", "midpoint-10k", "midpoint-100k"],
)
@pytest.mark.parametrize("name", list(SYSTEMS))
def test_energy_error_bounded_without_drift(name, rule, steps):
    potential, grad_v, np_potential = SYSTEMS[name]
    dt = 0.1
    lag = _lagrangian(rule, potential, dt)
    q0 = torch.tensor([[1.2]], dtype=torch.float64)
    v0 = torch.tensor([[0.5]], dtype=torch.float64)
    with torch.no_grad():
        e, _, _ = _trajectory_energy(lag, q0, q0 + dt * v0, steps)
    e = e[0].numpy()
    error = e - e[0]
    assert np.abs(error).max() < 0.05 * abs(e[0]) + 0.02, f"{name}: energy error not bounded"
    # no secular drift: the fitted slope is tiny next to RK4's over a run of the same step size
    vi_slope = abs(_slope(error, dt))
    rk4 = _rk4_energy(grad_v, np_potential, q0[0].numpy(), v0[0].numpy(), dt, 20_000)
    rk4_slope = abs(_slope(rk4 - rk4[0], dt))
    assert vi_slope < 1e-6 * 100_000 / steps, f"{name}: energy drifts with slope {vi_slope:.2e}"
    assert vi_slope < 0.05 * rk4_slope, f"{name}: VI slope {vi_slope:.2e} vs RK4 {rk4_slope:.2e}"
    # late-time error no larger than early-time error (no growth); the floor covers the midpoint rule on the
    # harmonic oscillator, whose quadratic energy it conserves exactly, leaving only solver round-off
    first, last = np.abs(error[: steps // 10]).max(), np.abs(error[-steps // 10 :]).max()
    assert last < 1.5 * first + 1e-6


@pytest.mark.parametrize("make", [central_force_midpoint, central_force_callable], ids=["midpoint", "callable"])
def test_rotation_invariance_conserves_angular_momentum(make):
    dt = 0.05
    lag = make(dt)
    q0 = torch.tensor([[1.0, 0.0], [0.5, -0.8], [1.5, 0.4]], dtype=torch.float64)
    q1 = q0 + dt * torch.tensor([[0.0, 0.9], [0.6, 0.3], [-0.2, 0.5]], dtype=torch.float64)
    with torch.no_grad():
        out = rollout(lag, q0, q1, horizon=400, tol=1e-12)
    assert out.converged.all()
    traj = torch.cat([q0[:, None], q1[:, None], out.positions], 1)
    momentum = discrete_momentum(lag, traj[:, :-1], traj[:, 1:])
    j = angular_momentum(traj[:, 1:], momentum)
    assert (j - j[:, :1]).abs().max() < 1e-9
    assert j.abs().min() > 0.1  # the check is not vacuous


def test_breaking_the_symmetry_breaks_angular_momentum():
    """Control for the Noether test: an anisotropic potential does change q × p."""
    dt = 0.05
    eye = torch.eye(2, dtype=torch.float64)
    lag = MidpointLagrangian(lambda q: eye.expand(q.shape[0], 2, 2), lambda q: q[..., 0] ** 2 + 3 * q[..., 1] ** 2, dt)
    q0 = torch.tensor([[1.0, 0.2]], dtype=torch.float64)
    q1 = q0 + dt * torch.tensor([[0.1, 0.7]], dtype=torch.float64)
    traj = torch.cat([q0[:, None], q1[:, None], rollout(lag, q0, q1, horizon=200).positions.detach()], 1)
    j = angular_momentum(traj[:, 1:], discrete_momentum(lag, traj[:, :-1], traj[:, 1:]))
    assert (j - j[:, :1]).abs().max() > 0.1


def _random_spd(dim, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, generator=g, dtype=torch.float64)
    return a @ a.T + 0.5 * torch.eye(dim, dtype=torch.float64)


# The trapezoid (separable) rule with a potential has an energy error oscillating by O(h²) per step, so
# monotone decay is a theorem only for free motion there; the midpoint rule keeps it with a quadratic V too.
@pytest.mark.parametrize("rule, potential", [("separable", "free"), ("midpoint", "free"), ("midpoint", "quadratic")])
def test_dissipation_only_energy_never_increases(rule, potential):
    dim, dt = 3, 0.1
    mass = _random_spd(dim, 0)
    stiffness = _random_spd(dim, 1)
    pot = (lambda q: torch.zeros(q.shape[:-1], dtype=q.dtype)) if potential == "free" else (lambda q: 0.5 * ((q @ stiffness) * q).sum(-1))
    lag = separable(dim, dt, pot, mass) if rule == "separable" else MidpointLagrangian(lambda q: mass.expand(q.shape[0], dim, dim), pot, dt)
    force = DiscreteForcing(dim, 0, dt, damping_init=0.3).double()
    with torch.no_grad():
        force.damping_factor.copy_(torch.tril(_random_spd(dim, 2)) + torch.eye(dim, dtype=torch.float64))
        q0 = torch.randn(8, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
        q1 = q0 + dt * torch.randn(8, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
        e, _, _ = _trajectory_energy(lag, q0, q1, 300, force)
    increase = (e[:, 1:] - e[:, :-1]).max()
    assert increase <= 1e-12 * e.abs().max(), f"energy rose by {increase:.3e}"
    assert (e[:, -1] < 0.5 * e[:, 0]).all()  # and it really dissipates


@pytest.mark.parametrize("rule", ["separable", "midpoint"])
def test_constant_force_changes_momentum_by_the_impulse(rule):
    dim, dt, steps = 2, 0.05, 100
    mass = _random_spd(dim, 5)
    zero = lambda q: torch.zeros(q.shape[:-1], dtype=q.dtype)  # noqa: E731
    lag = separable(dim, dt, zero, mass) if rule == "separable" else MidpointLagrangian(lambda q: mass.expand(q.shape[0], dim, dim), zero, dt)
    force = DiscreteForcing(dim, 2, dt, dissipation=False).double()
    u = torch.tensor([[0.7, -0.3]], dtype=torch.float64).expand(4, 2)
    q0 = torch.randn(4, dim, dtype=torch.float64)
    q1 = q0 + dt * torch.randn(4, dim, dtype=torch.float64)
    with torch.no_grad():
        out = rollout(lag, q0, q1, u[:, None].expand(4, steps, 2), force, u_prev=u)
        traj = torch.cat([q0[:, None], q1[:, None], out.positions], 1)
        p = discrete_momentum(lag, traj[:, :-1], traj[:, 1:], force, u[:, None].expand(4, steps + 1, 2))
        impulse = dt * u @ force.input_matrix().mT
    change = p[:, -1] - p[:, 0]
    assert torch.allclose(change, steps * impulse, atol=1e-9)
    assert torch.allclose(p[:, 1:] - p[:, :-1], impulse[:, None].expand(4, steps, dim), atol=1e-10)


def test_momentum_and_energy_of_batched_sequences_without_action_columns():
    """Passive systems have actions with zero columns; (batch, time, 0) actions must flatten like the positions."""
    from lawm_env.mechanics import MechanicalLagrangian

    torch.manual_seed(0)
    lagrangian, force = MechanicalLagrangian(3, 0.1, hidden=16), DiscreteForcing(3, 0, 0.1)
    q = torch.randn(2, 5, 3)
    p = discrete_momentum(lagrangian, q[:, :-1], q[:, 1:], force, torch.zeros(2, 4, 0))
    assert p.shape == (2, 4, 3) and torch.allclose(p, discrete_momentum(lagrangian, q[:, :-1], q[:, 1:], force, None))
    assert energy(lagrangian, q[:, 1:], p).shape == (2, 4)
