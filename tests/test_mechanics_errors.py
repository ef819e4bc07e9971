"""Bad input gets a clear error."""

from __future__ import annotations

import pytest
import torch

from lawm_env.mechanics import (
    DiscreteForcing,
    MechanicalLagrangian,
    SeparableLagrangian,
    energy,
    rollout,
    solve_del,
)


@pytest.fixture
def system():
    lag = MechanicalLagrangian(3, 0.05, hidden=8)
    force = DiscreteForcing(3, 2, 0.05)
    return lag, force, torch.zeros(4, 3), torch.full((4, 3), 0.01)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda q0, q1, u: (q0, q1[:, :2], u), "has shape"),
        (lambda q0, q1, u: (q0[None], q1[None], u), "must have shape"),
        (lambda q0, q1, u: (q0.long(), q1.long(), u), "floating-point"),
        (lambda q0, q1, u: (q0, q1.double(), u), "float64"),
        (lambda q0, q1, u: (q0.clone().index_fill_(0, torch.tensor([1]), float("nan")), q1, u), "q_prev contains NaN"),
        (lambda q0, q1, u: (q0, q1.clone().index_fill_(1, torch.tensor([0]), float("inf")), u), "q_curr contains NaN or Inf"),
        (lambda q0, q1, u: (q0, q1, u.clone().fill_(float("nan"))), "u_curr contains NaN"),
        (lambda q0, q1, u: (q0, q1, u[:2]), "u_curr must have shape"),
        (lambda q0, q1, u: (q0, q1, torch.zeros(4, 5)), "actions must have 2 components"),
    ],
)
def test_solve_del_rejects_bad_inputs(system, mutate, message):
    lag, force, q0, q1 = system
    a, b, u = mutate(q0, q1, torch.zeros(4, 2))
    with pytest.raises(ValueError, match=message):
        solve_del(lag, a, b, force, None, u)


def test_actions_without_force_and_bad_options(system):
    lag, _, q0, q1 = system
    with pytest.raises(ValueError, match="no force"):
        solve_del(lag, q0, q1, None, None, torch.zeros(4, 2))
    with pytest.raises(ValueError, match="jacobian"):
        solve_del(lag, q0, q1, jacobian="finite-difference")
    with pytest.raises(ValueError, match="method"):
        solve_del(lag, q0, q1, method="rk4")
    with pytest.raises(TypeError, match="callable"):
        solve_del(42, q0, q1)
    with pytest.raises(TypeError, match="torch.Tensor"):
        solve_del(lag, q0.numpy(), q1)


def test_rollout_rejects_bad_action_sequences(system):
    lag, force, q0, q1 = system
    with pytest.raises(ValueError, match=r"\(batch, horizon, action_dim\)"):
        rollout(lag, q0, q1, torch.zeros(3, 5, 2), force)
    with pytest.raises(ValueError, match="horizon"):
        rollout(lag, q0, q1, torch.zeros(4, 5, 2), force, horizon=4)
    with pytest.raises(ValueError, match="actions contains NaN"):
        rollout(lag, q0, q1, torch.full((4, 5, 2), float("nan")), force)
    with pytest.raises(ValueError, match="horizon"):
        rollout(lag, q0, q1)


def test_constructors_and_energy_reject_bad_arguments():
    with pytest.raises(ValueError, match="dt must be positive"):
        MechanicalLagrangian(2, 0.0)
    with pytest.raises(ValueError, match="positive-definite"):
        SeparableLagrangian(2, 0.1, mass=torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
    with pytest.raises(TypeError, match="mass\\(q\\) and potential\\(q\\)"):
        energy(lambda a, b: (a * b).sum(-1), torch.zeros(2, 2), torch.zeros(2, 2))


def test_unbatched_inputs_round_trip():
    lag = MechanicalLagrangian(3, 0.05, hidden=8)
    force = DiscreteForcing(3, 2, 0.05)
    q0, q1 = torch.zeros(3), torch.full((3,), 0.01)
    with torch.no_grad():
        q2, info = solve_del(lag, q0, q1, force, torch.zeros(2), torch.ones(2))
        batched, _ = solve_del(lag, q0[None], q1[None], force, torch.zeros(1, 2), torch.ones(1, 2))
        out = rollout(lag, q0, q1, torch.ones(7, 2), force)
    assert q2.shape == (3,) and info.residual.shape == () and torch.equal(q2, batched[0])
    assert out.positions.shape == (7, 3) and out.converged.shape == (7,)
