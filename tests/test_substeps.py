"""LaWM transition with substeps: n DEL steps of dt/n per step of dt, the action held."""

from __future__ import annotations

import pytest
import torch

from lawm_env.model import DELTransition, WorldModel, WorldModelConfig
from lawm_env.training.losses import world_model_losses
from tests.rollouts import converged_positions


def _transition(substeps: int, seed: int = 0, **kw) -> DELTransition:
    torch.manual_seed(seed)
    return DELTransition(3, 1, 0.2, hidden=16, tol=1e-11, max_iter=30, substeps=substeps, **kw).double()


def _start(batch: int = 4):
    g = torch.Generator().manual_seed(1)
    q = 0.5 * torch.randn(batch, 3, generator=g, dtype=torch.float64)
    q_prev = q - 0.2 * 0.3 * torch.randn(batch, 3, generator=g, dtype=torch.float64)
    actions = torch.rand(batch, 3, 1, generator=g, dtype=torch.float64) * 2 - 1
    return q_prev, q, torch.zeros(batch, 1, dtype=torch.float64), actions


def test_one_substep_is_the_plain_del_step():
    """substeps = 1 starts the integrator from the given pair itself and takes the residual of the given triple."""
    transition = _transition(1)
    q_prev, q, u_prev, actions = _start()
    state = transition.start(q_prev, q, u_prev)
    assert torch.equal(state.inner.q_prev, q_prev) and torch.equal(state.inner.q, q)
    stepped, _ = transition.step(state, actions[:, 0])
    plain, _ = transition.stepper.step(transition.stepper.start(q_prev, q, u_prev), actions[:, 0])
    assert torch.equal(stepped.q, plain.q)
    q_next = stepped.q.detach()
    lagrangian, forcing = transition.lagrangian, transition.forcing
    expected = (lagrangian.partials(q_prev, q).d2 + forcing(q_prev, q, u_prev).plus
                + lagrangian.partials(q, q_next).d1 + forcing(q, q_next, actions[:, 0]).minus)
    torch.testing.assert_close(transition.residual(q_prev, q, q_next, u_prev, actions[:, 0]), expected)
    assert float(transition.residual(q_prev, q, q_next, u_prev, actions[:, 0]).detach().norm(dim=-1).max()) < 1e-9  # it solves the DEL


def test_a_step_is_substeps_fine_del_steps_from_the_fine_start():
    transition = _transition(4)
    q_prev, q, u_prev, actions = _start()
    state = transition.start(q_prev, q, u_prev)
    assert torch.equal(state.q_prev, q_prev) and torch.equal(state.q, q)
    assert torch.allclose(state.inner.q_prev, q - (q - q_prev) / 4)  # one fine step back, at the pair's velocity
    inner = transition.stepper.start(q - (q - q_prev) / 4, q, u_prev)
    iterations = torch.zeros(q.shape[0], dtype=torch.long)
    for _ in range(4):
        inner, info = transition.stepper.step(inner, actions[:, 0])
        iterations += info.iterations
    stepped, report = transition.step(state, actions[:, 0])
    torch.testing.assert_close(stepped.q, inner.q)
    assert torch.equal(stepped.q_prev, q)  # the visible pair is one step of dt apart
    assert torch.equal(report.iterations, iterations) and bool(report.converged.all())


def test_more_substeps_converge_to_the_continuous_flow():
    """The same learned Lagrangian and forcing integrated at dt/n: the error against n = 32 falls with n, at
    least at first order (the start's discrete momentum D2 L_d(q - v·dt/n, q) is first-order accurate in dt/n,
    so the whole is first order; from n = 4 to 16 the error falls by about 7 against this reference)."""
    q_prev, q, u_prev, actions = _start()
    weights = _transition(1).state_dict()
    runs = {}
    for n in (1, 4, 16, 32):
        transition = _transition(n)
        transition.load_state_dict(weights)
        runs[n] = converged_positions(transition, q_prev, q, u_prev, actions)
    errors = {n: float((runs[n] - runs[32]).detach().norm(dim=-1).max()) for n in (1, 4, 16)}
    assert errors[1] / errors[4] > 3 and errors[4] / errors[16] > 3


def test_implicit_gradients_through_substeps():
    transition = _transition(2)
    q_prev, q, u_prev, actions = _start(batch=2)
    inputs = (q_prev.requires_grad_(), q.requires_grad_(), actions[:, :2].clone().requires_grad_())
    assert torch.autograd.gradcheck(lambda a, b, u: converged_positions(transition, a, b, u_prev, u), inputs, eps=1e-6, atol=1e-5)


def test_substeps_in_the_world_model_config_losses_and_run_identity(tiny_pendulum, tmp_path):
    from conftest import train_run

    assert WorldModelConfig.from_dict({"action_dim": 1}).substeps == 1  # checkpoints written before the option
    config = WorldModelConfig(action_dim=1, latent_dim=4, hidden=16, channels=4, image_size=32, substeps=3)
    model = WorldModel(config)
    assert model.transition.substeps == 3 and WorldModelConfig.from_dict(config.to_dict()) == config
    obs = torch.randint(0, 256, (2, 6, 32, 32, 3), dtype=torch.uint8)
    total, report = world_model_losses(model, obs, torch.rand(2, 5, 1) * 2 - 1, torch.zeros(2, 5), 3)
    total.backward()
    assert torch.isfinite(total) and report["residual"] > 0
    assert all(torch.isfinite(p.grad).all() for p in model.transition.parameters() if p.grad is not None)
    assert train_run(data=str(tiny_pendulum), out=str(tmp_path), substeps=2).train.model.substeps == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_substeps_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="substeps must be a positive integer"):
        DELTransition(2, 1, 0.1, substeps=bad)


def test_inactive_rows_are_skipped_in_every_substep():
    """A row marked inactive takes no iteration in any substep; the others are those of the unmasked step."""
    transition = _transition(3)
    q_prev, q, u_prev, actions = _start()
    active = torch.tensor([True, False, True, True])
    with torch.no_grad():
        full, full_info = transition.step(transition.start(q_prev, q, u_prev), actions[:, 0])
        part, part_info = transition.step(transition.start(q_prev, q, u_prev), actions[:, 0], active)
    assert full_info.iterations[1] > 0 and part_info.iterations[1] == 0
    torch.testing.assert_close(part.q[active], full.q[active], rtol=0, atol=1e-10)
    assert torch.equal(part_info.iterations[active], full_info.iterations[active])
