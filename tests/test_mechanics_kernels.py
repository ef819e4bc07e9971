"""The hand-derived fast paths agree with their autograd / LAPACK references."""

from __future__ import annotations

import torch

from lawm_env.mechanics import MechanicalLagrangian, MidpointRule
from lawm_env.mechanics.linalg import batched_matvec, factor_mass, spd_inverse


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


def test_factor_mass_and_inverse_solve_on_subsets():
    torch.manual_seed(2)
    dim, batch, dt = 6, 50, 0.1
    lag = MechanicalLagrangian(dim, dt, hidden=16).double()
    q = torch.randn(batch, dim, dtype=torch.float64)
    packed, _ = lag.packed_factor_and_potential(q)
    by_hand = torch.zeros(batch, dim, dim, dtype=torch.float64)
    for n, (i, j) in enumerate((i, j) for i in range(dim) for j in range(i + 1)):  # row-major lower triangle
        by_hand[:, i, j] = packed[n]
    expected = by_hand @ by_hand.mT + lag.eps * torch.eye(dim, dtype=torch.float64)
    assert torch.allclose(factor_mass(packed, dim, lag.eps), expected, atol=1e-12)
    assert torch.allclose(lag.mass(q), expected, atol=1e-12)
    k = spd_inverse(lag.mass(q) / dt)
    rhs = torch.randn(batch, dim, dtype=torch.float64)
    assert torch.allclose(batched_matvec(k, rhs), torch.linalg.solve(lag.mass(q) / dt, rhs), atol=1e-9)
    not_definite = torch.diag(torch.tensor([1.0, -1.0], dtype=torch.float64)).expand(3, 2, 2)
    assert torch.isnan(spd_inverse(not_definite)).all()  # flagged, never an exception


def test_structured_newton_matrix_contracts_with_a_nearly_singular_mass_factor():
    """K = (CCᵀ + eps·I)/h + R/2 keeps the terms that carry the Jacobian where the learned factor C is nearly
    singular: the chord iteration x ← x + K⁻¹r then contracts fast (spectral radius of I + K⁻¹J, J = ∂r/∂x)."""
    from lawm_env.mechanics import DELStepper, DiscreteForcing
    from lawm_env.mechanics.autodiff import value_and_batch_jacobian

    torch.manual_seed(4)
    dim, dt = 4, 0.1
    lag = MechanicalLagrangian(dim, dt, hidden=16, eps=1e-2).double()
    with torch.no_grad():  # C ≈ diag(softplus(-6)) ≈ 2.5e-3: M is eps·I up to 1e-5
        lag.trunk[-1].weight.mul_(1e-3)
        lag.trunk[-1].bias.fill_(-6.0)
    force = DiscreteForcing(dim, 1, dt, damping_init=0.3).double()
    stepper = DELStepper(lag, force)
    q = torch.randn(16, dim, dtype=torch.float64)
    u = torch.randn(16, 1, dtype=torch.float64)
    with torch.no_grad():
        k = stepper.start(q, q, u).newton_inverse  # built at the pair (q, q): zero velocity
    (r, _, _), jac = value_and_batch_jacobian(lambda y: stepper._residual_and_momentum(q, torch.zeros_like(q), u, y), q.clone())
    iteration = torch.eye(dim, dtype=torch.float64) + k @ jac
    assert torch.linalg.eigvals(iteration).abs().amax() < 0.05


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
