"""The explicit path is Störmer–Verlet; the generic Newton path agrees with it and with itself."""

from __future__ import annotations

import pytest
import torch

from lawm_env.mechanics import DiscreteForcing, MechanicalLagrangian, SeparableLagrangian, rollout, solve_del
from tests.mechanics_systems import pendulum_potential, separable


def stormer_verlet(q_prev, q, mass, grad_v, dt, steps):
    """Reference position-form Störmer–Verlet: q⁺ = 2q - q⁻ + h² M⁻¹(-∇V(q))."""
    inv = torch.linalg.inv(mass)
    out = []
    for _ in range(steps):
        q_prev, q = q, 2 * q - q_prev + dt**2 * (-grad_v(q)) @ inv.mT
        out.append(q)
    return torch.stack(out, 1)


def test_separable_reproduces_stormer_verlet_to_1e_10():
    torch.manual_seed(0)
    dt = 0.05
    mass = torch.tensor([[2.0, 0.3], [0.3, 1.0]], dtype=torch.float64)
    lag = separable(2, dt, lambda q: -torch.cos(q[..., 0]) + 0.5 * q[..., 1] ** 2 + 0.2 * q[..., 0] * q[..., 1], mass)
    grad_v = lambda q: torch.stack([torch.sin(q[..., 0]) + 0.2 * q[..., 1], q[..., 1] + 0.2 * q[..., 0]], -1)  # noqa: E731
    q0 = torch.randn(16, 2, dtype=torch.float64)
    q1 = q0 + dt * torch.randn(16, 2, dtype=torch.float64)
    q2, info = solve_del(lag, q0, q1)
    expected = stormer_verlet(q0, q1, mass, grad_v, dt, 1)[:, 0]
    assert (q2 - expected).abs().max() < 1e-10
    assert info.converged.all() and (info.iterations == 1).all()
    traj = rollout(lag, q0, q1, horizon=200).positions
    assert (traj - stormer_verlet(q0, q1, mass, grad_v, dt, 200)).abs().max() < 1e-10


def test_newton_converges_in_one_step_on_separable_lagrangian():
    torch.manual_seed(1)
    dt = 0.1
    lag = SeparableLagrangian(3, dt, hidden=16).double()
    force = DiscreteForcing(3, 2, dt).double()
    q0, q1 = torch.randn(32, 3, dtype=torch.float64), torch.randn(32, 3, dtype=torch.float64)
    u0, u1 = torch.randn(32, 2, dtype=torch.float64), torch.randn(32, 2, dtype=torch.float64)
    with torch.no_grad():
        explicit, info_e = solve_del(lag, q0, q1, force, u0, u1)
        newton, info_n = solve_del(lag, q0, q1, force, u0, u1, method="newton")
    assert (info_n.iterations <= 1).all() and info_n.converged.all()
    assert (explicit - newton).abs().max() < 1e-12
    assert info_e.residual.max() < 1e-12


@pytest.mark.parametrize("jacobian", ["structured", "exact"])
def test_structured_and_exact_newton_agree(jacobian):
    torch.manual_seed(2)
    lag = MechanicalLagrangian(4, 0.05, hidden=32).double()
    force = DiscreteForcing(4, 2, 0.05, state_dependent=True, hidden=16).double()
    q0 = torch.randn(64, 4, dtype=torch.float64)
    q1 = q0 + 0.05 * torch.randn(64, 4, dtype=torch.float64)
    u0, u1 = torch.randn(64, 2, dtype=torch.float64), torch.randn(64, 2, dtype=torch.float64)
    with torch.no_grad():
        q2, info = solve_del(lag, q0, q1, force, u0, u1, jacobian=jacobian)
        reference, _ = solve_del(lag, q0, q1, force, u0, u1, jacobian="exact", tol=1e-13)
    assert info.converged.all()
    assert (q2 - reference).abs().max() < 1e-9


def test_pendulum_step_matches_closed_form_small_angle_frequency():
    """Small oscillations of the pendulum have period 2π (g/l = 1): a sanity check on units and signs."""
    dt = 0.01
    lag = separable(1, dt, pendulum_potential())
    q0 = torch.tensor([[0.01]], dtype=torch.float64)
    traj = rollout(lag, q0, q0, horizon=int(2 * torch.pi / dt)).positions[0, :, 0]
    crossings = ((traj[:-1] > 0) & (traj[1:] <= 0)).nonzero()
    assert crossings.numel() >= 1
    quarter = (crossings[0].item() + 1.5) * dt  # positions[i] is at time (i + 1)·dt; the sign change is between
    assert abs(quarter - torch.pi / 2) < dt
