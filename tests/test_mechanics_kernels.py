"""The hand-derived fast paths agree with their autograd / LAPACK references."""

from __future__ import annotations

import torch

from lawm_env.mechanics import MechanicalLagrangian, MidpointRule
from lawm_env.mechanics.linalg import DenseNewtonMatrix, FactorNewtonMatrix


def test_hand_partials_match_autograd_partials():
    torch.manual_seed(0)
    lag = MechanicalLagrangian(5, 0.05, hidden=32, depth=3).double()
    q0 = torch.randn(64, 5, dtype=torch.float64)
    q1 = q0 + 0.05 * torch.randn(64, 5, dtype=torch.float64)
    with torch.no_grad():
        fast = lag.partials(q0, q1)
    slow = MidpointRule.partials(lag, q0, q1)  # grad mode: the generic autograd path
    assert torch.allclose(fast.d1, slow.d1.detach(), atol=1e-12)
    assert torch.allclose(fast.d2, slow.d2.detach(), atol=1e-12)
    # and both agree with autograd applied to L_d itself
    a, b = q0.clone().requires_grad_(), q1.clone().requires_grad_()
    d1, d2 = torch.autograd.grad(lag(a, b).sum(), (a, b))
    assert torch.allclose(fast.d1, d1, atol=1e-12) and torch.allclose(fast.d2, d2, atol=1e-12)


def test_factor_mass_matches_dense_mass():
    torch.manual_seed(1)
    lag = MechanicalLagrangian(4, 0.1, hidden=16).double()
    q = torch.randn(8, 4, dtype=torch.float64)
    v = torch.randn(8, 4, dtype=torch.float64)
    terms = lag.midpoint_terms(q, v)
    mass = lag.mass(q)
    assert torch.allclose(terms.mv, (mass @ v.unsqueeze(-1)).squeeze(-1), atol=1e-12)
    assert torch.allclose(terms.quad, ((mass @ v.unsqueeze(-1)).squeeze(-1) * v).sum(-1), atol=1e-12)
    assert (torch.linalg.eigvalsh(mass) >= lag.eps * (1 - 1e-9)).all()


def test_packed_factor_solve_matches_dense_solve_on_subsets():
    torch.manual_seed(2)
    dim, batch, dt = 6, 50, 0.1
    lag = MechanicalLagrangian(dim, dt, hidden=16).double()
    q = torch.randn(batch, dim, dtype=torch.float64)
    packed, _ = lag.packed_factor_and_potential(q)
    factor, _ = lag.factor_and_potential(q)
    rhs = torch.randn(batch, dim, dtype=torch.float64)
    exact = DenseNewtonMatrix((factor @ factor.mT) / dt)
    approx = FactorNewtonMatrix(packed.detach(), dim, dt, eps=0.0)
    assert torch.allclose(approx.solve(rhs), exact.solve(rhs), atol=1e-9)
    index = torch.tensor([3, 7, 49])
    assert torch.allclose(approx.solve(rhs[index], index), exact.solve(rhs[index], index), atol=1e-9)


def test_hand_potential_gradient_matches_autograd():
    from lawm_env.mechanics import SeparableLagrangian

    torch.manual_seed(3)
    lag = SeparableLagrangian(5, 0.1, hidden=32, depth=3).double()
    q = torch.randn(40, 5, dtype=torch.float64)
    with torch.no_grad():
        fast = lag.grad_potential(q)
    slow = lag.grad_potential(q)  # grad mode: autograd
    assert torch.allclose(fast, slow.detach(), atol=1e-12)


def test_forward_difference_jacobian_matches_autograd():
    """The retry's finite-difference Jacobian of a DEL residual agrees with the autograd Jacobian to ~√eps."""
    from lawm_env.mechanics import MechanicalLagrangian
    from lawm_env.mechanics.autodiff import forward_difference_jacobian, value_and_batch_jacobian

    torch.manual_seed(0)
    lag = MechanicalLagrangian(6, 0.1, hidden=32, depth=2)
    q, p = torch.randn(20, 6), 3 * torch.randn(20, 6)
    x = q + 0.3 * torch.randn(20, 6)
    residual = lambda q_, p_, y: p_ + lag.partials(q_, y).d1  # noqa: E731
    (r,), exact = value_and_batch_jacobian(lambda y: (residual(q, p, y),), x)
    with torch.no_grad():
        approx = forward_difference_jacobian(lambda y, n: residual(q.repeat(n, 1), p.repeat(n, 1), y), x, residual(q, p, x))
    assert approx.shape == exact.shape == (20, 6, 6)
    scale = exact.abs().amax(dim=(1, 2), keepdim=True)
    assert float(((approx - exact).abs() / scale).max()) < 5e-3
    assert float(((approx - exact).abs() / scale).max()) > 0  # it is an approximation, not a copy
