"""The batched Newton solver: convergence on random learned Lagrangians, robustness, reporting."""

from __future__ import annotations

import pytest
import torch

from lawm_env.mechanics import (
    DELStepper,
    DiscreteForcing,
    MechanicalLagrangian,
    MidpointLagrangian,
    damped_newton,
    rollout,
    solve_del,
)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("dim, dt", [(2, 0.01), (8, 0.05), (16, 0.1)])
def test_residual_below_tolerance_on_random_mechanical_networks(dtype, tol, dim, dt, device):
    torch.manual_seed(dim)
    for seed in range(3):
        torch.manual_seed(seed)
        lag = MechanicalLagrangian(dim, dt, hidden=64).to(device, dtype)
        force = DiscreteForcing(dim, 3, dt).to(device, dtype)
        q0 = torch.randn(256, dim, dtype=dtype, device=device)
        q1 = q0 + dt * torch.randn(256, dim, dtype=dtype, device=device)
        u0, u1 = (torch.rand(256, 3, dtype=dtype, device=device) * 2 - 1 for _ in range(2))
        with torch.no_grad():
            q2, info = solve_del(lag, q0, q1, force, u0, u1, tol=tol)
            _, again = solve_del(lag, q0, q1, force, u0, u1, tol=tol)
        assert info.converged.all(), f"{(~info.converged).sum()} samples did not converge"
        assert info.residual.max() <= tol
        assert torch.isfinite(q2).all()
        assert info.iterations.max() <= 10
        assert torch.equal(info.iterations, again.iterations)  # deterministic


def test_residual_reported_is_the_true_residual():
    torch.manual_seed(0)
    dt = 0.05
    lag = MechanicalLagrangian(3, dt, hidden=16).double()
    q0 = torch.randn(10, 3, dtype=torch.float64)
    q1 = q0 + dt * torch.randn(10, 3, dtype=torch.float64)
    with torch.no_grad():
        q2, info = solve_del(lag, q0, q1, max_iter=1, tol=1e-300, rescue=False)
        r = lag.partials(q0, q1).d2 + lag.partials(q1, q2).d1
    assert torch.allclose(torch.linalg.vector_norm(r, dim=-1), info.residual, rtol=1e-6, atol=1e-14)
    assert not info.converged.any() and (info.iterations == 1).all()


def test_non_finite_start_falls_back_and_non_convergence_is_flagged_not_nan():
    """A potential whose gradient is NaN outside the unit disk. The exact-Jacobian path starts from the constant-velocity
    guess, outside the disk for sample 0: it restarts from q_k; NaN trial points are rejected, never returned."""
    dt = 0.2
    eye = torch.eye(2, dtype=torch.float64)
    lag = MidpointLagrangian(lambda q: eye.expand(q.shape[0], 2, 2), lambda q: -torch.sqrt(1 - (q * q).sum(-1)), dt)
    q0 = torch.tensor([[0.9, 0.0], [0.0, 0.1]], dtype=torch.float64)
    q1 = torch.tensor([[0.99, 0.0], [0.0, 0.12]], dtype=torch.float64)
    with torch.no_grad():
        assert torch.isnan(lag.partials(q1, 2 * q1 - q0).d1[0]).any()
    with torch.no_grad():
        q2, info = solve_del(lag, q0, q1, jacobian="exact", max_iter=30)
        short, short_info = solve_del(lag, q0, q1, jacobian="exact", max_iter=1)
    assert info.converged.all() and torch.isfinite(q2).all() and (q2.norm(dim=-1) < 1).all()
    assert torch.isfinite(short).all() and torch.isfinite(short_info.residual).all()
    assert not short_info.converged[0]


def test_damped_newton_on_a_known_root_and_iteration_limit():
    target = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64)

    def evaluate(x, index):  # the payload's last entry is the Jacobian: Newton directions
        t = target if index is None else target[index]
        return x**3 - t**3, (torch.diag_embed(3 * x**2),)

    x0 = torch.full_like(target, 4.0)
    result = damped_newton(evaluate, x0, tol=1e-12, max_iter=50)
    assert result.converged.all() and torch.allclose(result.x, target, atol=1e-10)
    limited = damped_newton(evaluate, x0, tol=1e-12, max_iter=2)
    assert (limited.iterations == 2).all() and not limited.converged.any()
    assert (limited.residual_norm < torch.linalg.vector_norm(x0**3 - target**3, dim=-1)).all()


def test_non_finite_directions_for_every_sample_stall_without_an_empty_evaluation():
    """A singular Newton matrix for the whole batch: the samples stall (not converged) at once, and with
    ``early_exit`` the residual is never evaluated on an empty batch (which a forward-difference Jacobian cannot
    reshape)."""
    from lawm_env.mechanics.autodiff import forward_difference_jacobian

    calls = []

    def evaluate(x, index):
        calls.append(x.shape[0])
        jac = forward_difference_jacobian(lambda y, n: y**2 - 4.0, x, x**2 - 4.0)
        return x**2 - 4.0, (jac,)

    x0 = torch.zeros(3, 2, dtype=torch.float64)
    result = damped_newton(evaluate, x0, tol=1e-10, max_iter=5, early_exit=True)
    assert not result.converged.any() and torch.equal(result.x, x0) and 0 not in calls
    assert (result.iterations == 1).all() and len(calls) == 2  # the start, then one stalled iteration
    assert forward_difference_jacobian(lambda y, n: y**2, torch.zeros(0, 2), torch.zeros(0, 2)).shape == (0, 2, 2)


def _fast_system(batch: int):
    """A random learned Lagrangian (float64, h 0.1) and pairs at large latent speeds (about 15), where the chord
    matrix misses much of the Jacobian."""
    torch.manual_seed(5)
    dt = 0.1
    lag = MechanicalLagrangian(4, dt, hidden=32).double()
    q0 = torch.randn(batch, 4, dtype=torch.float64) * 3
    return lag, q0, q0 + dt * 15 * torch.randn(batch, 4, dtype=torch.float64)


def test_large_velocities_converge_to_the_exact_newton_solution():
    """At large latent velocities the velocity-dependent Jacobian terms dominate M/h, which the structured
    matrix misses: its Broyden updates (and the rescue where they stall) still converge every
    sample to the solution that exact Newton finds."""
    lag, q0, q1 = _fast_system(256)
    with torch.no_grad():
        q2, info = solve_del(lag, q0, q1, tol=1e-9, max_iter=40)
        reference, exact_info = solve_del(lag, q0, q1, tol=1e-9, max_iter=40, jacobian="exact")
    assert exact_info.converged.all() and info.converged.all()
    assert (q2 - reference).abs().max() < 1e-6


def test_broyden_update_meets_the_secant_condition_and_beats_the_chord_iteration():
    from lawm_env.mechanics.linalg import batched_matvec, broyden_update, spd_inverse

    torch.manual_seed(6)
    batch, dim = 64, 5
    a = torch.randn(batch, dim, dim, dtype=torch.float64)
    a = a @ a.mT + dim * torch.eye(dim, dtype=torch.float64)
    target = torch.randn(batch, dim, dtype=torch.float64)

    def evaluate(x, index):  # r = f(target) - f(x), f(x) = A x + x³/10: -∂r/∂x = A + 0.3·diag(x²); the chord keeps A
        ai, t = (a, target) if index is None else (a[index], target[index])
        f = lambda y: (ai @ y.unsqueeze(-1)).squeeze(-1) + 0.1 * y**3  # noqa: E731
        return f(t) - f(x), ()

    iterations = {}
    for name in ("chord", "broyden"):
        result = damped_newton(evaluate, torch.zeros_like(target), tol=1e-10, max_iter=60, inverse=spd_inverse(a),
                               broyden=name == "broyden")
        assert result.converged.all() and torch.allclose(result.x, target, atol=1e-8)
        iterations[name] = result.iterations.float().mean().item()
    assert iterations["broyden"] < 0.7 * iterations["chord"], iterations

    inverse = spd_inverse(a)
    rows = torch.zeros(batch, dtype=torch.bool)
    rows[[1, 5, 9]] = True
    step, change = torch.randn(batch, dim, dtype=torch.float64), torch.randn(batch, dim, dtype=torch.float64)
    updated = broyden_update(inverse, step, change, rows)
    assert torch.allclose(batched_matvec(updated, change)[rows], -step[rows], atol=1e-10)  # H·y = -s: K ≈ -J
    assert torch.equal(updated[~rows], inverse[~rows])
    degenerate = broyden_update(inverse, torch.zeros_like(step), change, rows)  # a zero step: skipped
    assert torch.equal(degenerate, inverse)


def test_rollout_carries_momentum_like_repeated_single_steps():
    torch.manual_seed(3)
    dt = 0.05
    lag = MechanicalLagrangian(4, dt, hidden=32).double()
    force = DiscreteForcing(4, 2, dt, state_dependent=True, hidden=16).double()
    q0 = torch.randn(8, 4, dtype=torch.float64)
    q1 = q0 + dt * torch.randn(8, 4, dtype=torch.float64)
    actions = torch.rand(8, 20, 2, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        out = rollout(lag, q0, q1, actions, force, tol=1e-12)
        qa, qb, u_prev = q0, q1, None
        for k in range(20):
            qa, qb, u_prev = qb, solve_del(lag, qa, qb, force, u_prev, actions[:, k], tol=1e-12)[0], actions[:, k]
            assert (out.positions[:, k] - qb).abs().max() < 1e-9


def test_relative_tolerance_scales_with_momentum():
    torch.manual_seed(4)
    dt = 0.05
    lag = MechanicalLagrangian(3, dt, hidden=16)
    q0 = torch.randn(64, 3) * 3
    q1 = q0 + dt * 20 * torch.randn(64, 3)  # large latent velocities: float32 cannot reach 1e-7 absolute
    with torch.no_grad():
        _, absolute = solve_del(lag, q0, q1, tol=1e-7, max_iter=30)
        _, relative = solve_del(lag, q0, q1, tol=1e-7, rtol=1e-5, max_iter=30)
        p = lag.partials(q0, q1).d2
    assert relative.converged.all()
    assert (relative.residual <= 1e-7 + 1e-5 * p.norm(dim=-1)).all()
    assert not absolute.converged.all()


@pytest.mark.parametrize("rescue, max_iter", [(False, 6), (True, 2)])
def test_each_samples_solve_is_independent_of_the_rest_of_the_batch(rescue, max_iter):
    """At large velocities some solves converge within the budget and some do not (with the rescue too, at a
    small budget). Each sample's solve, its rescue included, follows from its own system, so solving the batch at
    once or one sample at a time gives the same solutions and the same verdicts."""
    lag, q0, q1 = _fast_system(96)
    with torch.no_grad():
        batch, info = solve_del(lag, q0, q1, tol=1e-9, max_iter=max_iter, rescue=rescue)
        single = [solve_del(lag, q0[i:i + 1], q1[i:i + 1], tol=1e-9, max_iter=max_iter, rescue=rescue) for i in range(96)]
    assert 0 < int(info.converged.sum()) < 96  # both outcomes occur
    assert torch.equal(info.converged, torch.cat([s[1].converged for s in single]))
    assert torch.equal(info.iterations, torch.cat([s[1].iterations for s in single]))
    alone = torch.cat([s[0] for s in single])
    torch.testing.assert_close(batch[info.converged], alone[info.converged], rtol=0, atol=1e-8)
    # an unconverged sample stops at an intermediate iterate, where the forward-difference Jacobian's round-off
    # (other batch sizes round differently) shows more
    torch.testing.assert_close(batch, alone, rtol=0, atol=1e-6)


def test_rescue_finds_the_solutions_the_quasi_newton_iteration_misses():
    """Large latent velocities: the chord matrix misses the Jacobian's velocity terms and quasi-Newton converges 20
    of 96 samples within 6 iterations, though every one has a solution (exact Newton finds it). The rescue
    (Newton with a forward-difference Jacobian from the prediction, the best iterate, constant velocity and rest)
    converges the others to the same solutions, costs iterations only there, and leaves the converged samples
    exactly as they were."""
    lag, q0, q1 = _fast_system(96)
    with torch.no_grad():
        plain, plain_info = solve_del(lag, q0, q1, tol=1e-9, max_iter=6, rescue=False)
        rescued, info = solve_del(lag, q0, q1, tol=1e-9, max_iter=6)
        exact, exact_info = solve_del(lag, q0, q1, tol=1e-9, max_iter=40, jacobian="exact")
    ok = plain_info.converged
    assert int(ok.sum()) == 20 and exact_info.converged.all() and info.converged.all()
    assert torch.equal(rescued[ok], plain[ok]) and torch.equal(info.iterations[ok], plain_info.iterations[ok])
    assert (info.iterations[~ok] > 6).all()
    torch.testing.assert_close(rescued[~ok], exact[~ok], rtol=0, atol=1e-8)


def test_inactive_rows_are_not_solved_and_the_others_are_unchanged():
    """Rows marked inactive take no iteration (nor the exact retry); the active rows, failures and retries
    among them, get the solutions and verdicts of the step without a mask."""
    lag, q0, q1 = _fast_system(96)
    stepper = DELStepper(lag, tol=1e-9, max_iter=6)
    active = torch.arange(96) % 3 != 0
    with torch.no_grad():
        full, full_info = stepper.step(stepper.start(q0, q1))
        part, part_info = stepper.step(stepper.start(q0, q1), active=active)
    assert not full_info.converged[active].all() and (full_info.iterations[~active] > 0).all()
    assert (part_info.iterations[~active] == 0).all()
    assert torch.equal(part_info.converged[active], full_info.converged[active])
    assert torch.equal(part_info.iterations[active], full_info.iterations[active])
    torch.testing.assert_close(part.q[active], full.q[active], rtol=0, atol=1e-8)
    with pytest.raises(ValueError, match="active"):
        stepper.step(stepper.start(q0, q1), active=active[:5])


def test_iteration_limits_cap_each_sample():
    def evaluate(x, index):
        return x - 1.0, ()

    slow = torch.full((3, 1, 1), -0.5, dtype=torch.float64)  # δ = -r/2 halves the error each iteration
    x0 = torch.zeros(3, 1, dtype=torch.float64)
    limits = torch.tensor([0, 2, 9])
    result = damped_newton(evaluate, x0, tol=1e-30, max_iter=5, limits=limits, inverse=slow, broyden=False)
    assert result.iterations.tolist() == [0, 2, 5] and not result.converged.any()
    torch.testing.assert_close(result.x[:, 0], torch.tensor([0.0, 0.75, 1 - 0.5**5], dtype=torch.float64))
    with pytest.raises(ValueError, match="limits"):
        damped_newton(evaluate, x0, tol=1e-9, max_iter=5, limits=torch.tensor([1, 2]))


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_early_exit_and_compaction_change_no_result(batch):
    """An eager solve that stops once every row is frozen, and carries on with the unfinished rows alone, returns
    what the static solve of the full budget returns (float64: round-off of different batch sizes is far below
    the tolerance)."""
    torch.manual_seed(7)
    dt = 0.1
    lag = MechanicalLagrangian(4, dt, hidden=32).double()
    q0 = torch.randn(batch, 4, dtype=torch.float64) * 2
    q1 = q0 + dt * 8 * torch.randn(batch, 4, dtype=torch.float64)
    stepper = DELStepper(lag, tol=1e-9, max_iter=12)
    state = stepper.start(q0, q1)
    with torch.no_grad():
        x0 = 2 * q1 - q0
        evaluate = stepper._evaluator(q1, state.momentum, None, "none")
        runs = [damped_newton(evaluate, x0, tol=1e-9, max_iter=12, inverse=state.newton_inverse, fallback=q1, early_exit=flag)
                for flag in (False, True)]
    static, eager = runs
    assert torch.equal(static.iterations, eager.iterations) and torch.equal(static.converged, eager.converged)
    torch.testing.assert_close(static.x, eager.x, rtol=0, atol=1e-12)
    assert static.converged.float().mean() > 0.5
    if batch > 1:  # rows finish at different iterations: the eager solve compacted the batch
        assert int(static.iterations.max()) > int(static.iterations.min())
