"""Implicit-function-theorem gradients through the DEL solve, checked against finite differences."""

from __future__ import annotations

import pytest
import torch

from lawm_env.mechanics import DiscreteForcing, MechanicalLagrangian, SeparableLagrangian, rollout, solve_del
from tests.mechanics_systems import central_force_callable


def _system(seed=0, dim=3, dt=0.05):
    torch.manual_seed(seed)
    lag = MechanicalLagrangian(dim, dt, hidden=16).double()
    force = DiscreteForcing(dim, 2, dt, state_dependent=True, hidden=8).double()
    q0 = torch.randn(4, dim, dtype=torch.float64)
    q1 = q0 + dt * torch.randn(4, dim, dtype=torch.float64)
    u0, u1 = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    return lag, force, q0, q1, u0, u1


@pytest.mark.parametrize("jacobian", ["structured", "exact"])
def test_gradcheck_inputs_and_actions(jacobian):
    lag, force, *inputs = _system()
    inputs = [x.requires_grad_() for x in inputs]

    def step(q0, q1, u0, u1):
        return solve_del(lag, q0, q1, force, u0, u1, tol=1e-13, max_iter=50, jacobian=jacobian)[0]

    assert torch.autograd.gradcheck(step, inputs, atol=1e-7, rtol=1e-5)


def test_parameter_gradients_match_central_differences():
    lag, force, q0, q1, u0, u1 = _system(seed=1)
    weights = torch.randn(4, 3, dtype=torch.float64)

    def loss() -> torch.Tensor:
        return (solve_del(lag, q0, q1, force, u0, u1, tol=1e-13, max_iter=50)[0] * weights).sum()

    loss().backward()
    eps = 1e-6
    for param in (lag.trunk[0].weight, lag.trunk[2].bias, force.net[0].weight):
        for flat_index in (0, 3, param.numel() - 1):
            entry = param.view(-1)
            with torch.no_grad():
                entry[flat_index] += eps
                plus = loss()
                entry[flat_index] -= 2 * eps
                minus = loss()
                entry[flat_index] += eps
            numeric = (plus - minus) / (2 * eps)
            assert abs(param.grad.view(-1)[flat_index] - numeric) < 1e-7 + 1e-5 * abs(numeric)


def test_gradcheck_user_callable_lagrangian():
    dt = 0.05
    lag = central_force_callable(dt)
    q0 = torch.tensor([[1.0, 0.2], [0.4, -0.9]], dtype=torch.float64, requires_grad=True)
    q1 = (q0.detach() + dt * torch.tensor([[0.1, 0.8], [0.5, 0.2]], dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: solve_del(lag, a, b, tol=1e-13)[0], [q0, q1], atol=1e-7, rtol=1e-5)


def test_gradcheck_through_a_rollout():
    lag, force, q0, q1, _, _ = _system(seed=2, dim=2)
    actions = (torch.rand(4, 4, 2, dtype=torch.float64) * 2 - 1).requires_grad_()
    q0.requires_grad_()

    def run(a, q):
        return rollout(lag, q, q1, a, force, tol=1e-13, max_iter=50).positions

    assert torch.autograd.gradcheck(run, [actions, q0], atol=1e-7, rtol=1e-5)


def test_explicit_path_gradients_reach_mass_potential_and_input_map():
    torch.manual_seed(4)
    lag = SeparableLagrangian(3, 0.1, hidden=8).double()
    force = DiscreteForcing(3, 2, 0.1).double()
    q0, q1 = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    out = rollout(lag, q0, q1, torch.randn(5, 6, 2, dtype=torch.float64), force).positions
    out.square().sum().backward()
    final_bias = f"potential_fn.net.{len(lag.potential_fn.net) - 1}.bias"  # a constant in V moves nothing
    for module in (lag, force):
        for name, p in module.named_parameters():
            if name != final_bias:
                assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert lag.get_parameter(final_bias).grad is None


def _graph_size(t: torch.Tensor) -> int:
    seen, stack = set(), [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(n for n, _ in node.next_functions)
    return len(seen)


def test_graph_does_not_grow_with_newton_iterations():
    lag, force, q0, q1, u0, u1 = _system(seed=5)
    sizes = []
    for max_iter in (1, 2, 4):  # below the iterations at which round-off stops progress
        q2, info = solve_del(lag, q0, q1, force, u0, u1, tol=1e-300, max_iter=max_iter, rescue=False)
        assert (info.iterations == max_iter).all()
        sizes.append(_graph_size(q2))
    assert sizes[0] == sizes[1] == sizes[2]


def test_batch_jacobians_of_the_residual_match_central_differences(device):
    """The exact Jacobian that the implicit gradients solve with: a loop of vector-Jacobian products (the CPU's) and
    one batched backward pass (CUDA's) agree with central differences."""
    from lawm_env.mechanics import DELStepper
    from lawm_env.mechanics.autodiff import batched_vjp_jacobian, looped_vjp_jacobian, value_and_batch_jacobian

    lag, force, q0, q1, u0, u1 = (t.to(device) for t in _system(seed=2))
    stepper = DELStepper(lag, force)
    p = stepper.start(q0, q1, u0).momentum.detach()
    x = (2 * q1 - q0).detach()
    residual = lambda y: stepper._residual_and_momentum(q1, p, u1, y)  # noqa: E731
    eps = 1e-6
    with torch.no_grad():
        columns = [(residual(x + eps * e)[0] - residual(x - eps * e)[0]) / (2 * eps) for e in torch.eye(3, dtype=x.dtype, device=device)]
    expected = torch.stack(columns, -1)
    torch.testing.assert_close(value_and_batch_jacobian(residual, x)[1], expected, rtol=1e-6, atol=1e-8)
    for jacobian in (looped_vjp_jacobian, batched_vjp_jacobian):
        xg = x.clone().requires_grad_(True)
        torch.testing.assert_close(jacobian(residual(xg)[0], xg), expected, rtol=1e-6, atol=1e-8)
