"""Angular generalized coordinates: q = (θ, x) on a cylinder, for joints that spin."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lawm_env.mechanics import DELStepper, MechanicalLagrangian, SeparableLagrangian
from lawm_env.mechanics.angles import (
    angle_features,
    angle_features_vjp,
    circular_spread,
    coordinates_from_features,
    pair_features,
    squared_distance,
    unwrap_near,
    wrap_angle,
)
from lawm_env.model import DELTransition, WorldModel, WorldModelConfig
from lawm_env.training.losses import world_model_losses
from tests.rollouts import converged_positions

TWO_PI = 2 * math.pi


def _shift(q: torch.Tensor, turns: torch.Tensor | float, angles: int = 1) -> torch.Tensor:
    """q with its first ``angles`` coordinates turned by whole turns."""
    out = q.clone()
    out[..., :angles] = out[..., :angles] + TWO_PI * torch.as_tensor(turns, dtype=q.dtype)
    return out


def test_wrap_unwrap_and_features_round_trip():
    g = torch.Generator().manual_seed(0)
    theta = 40 * torch.randn(1000, generator=g, dtype=torch.float64)
    wrapped = wrap_angle(theta)
    assert float(wrapped.min()) >= -math.pi and float(wrapped.max()) < math.pi
    turns = (theta - wrapped) / TWO_PI
    torch.testing.assert_close(turns, turns.round(), atol=1e-9, rtol=0)
    q = torch.randn(50, 4, generator=g, dtype=torch.float64)
    features = angle_features(q, 2)
    assert features.shape == (50, 6)
    torch.testing.assert_close(features[:, :2].square() + features[:, 2:4].square(), torch.ones(50, 2, dtype=torch.float64))
    # coordinates_from_features inverts the features up to whole turns, and for any (c, s) scale
    back = coordinates_from_features(3.0 * features, 2)
    torch.testing.assert_close(angle_features(back, 2)[:, :4], features[:, :4])
    torch.testing.assert_close(back[:, 2:], 3.0 * q[:, 2:])
    far = _shift(q, torch.randint(-5, 6, (50, 1), generator=g).double())
    near = unwrap_near(far, q + 0.3, 1)
    assert float((near[:, 0] - q[:, 0] - 0.3).abs().max()) <= math.pi
    torch.testing.assert_close(angle_features(near, 1), angle_features(far, 1))
    assert torch.equal(angle_features(q, 0), q) and torch.equal(unwrap_near(far, q, 0), far)  # no angles: identity


def test_circular_spread_is_zero_for_an_unused_angle_and_near_one_on_the_whole_circle():
    theta = torch.stack([torch.full((500,), 2.5), torch.linspace(-math.pi, math.pi, 501)[:-1]], -1)
    spread = circular_spread(theta.reshape(50, 10, 2))
    torch.testing.assert_close(spread, torch.tensor([0.0, 1.0]), atol=1e-5, rtol=0)
    assert circular_spread(theta + 2 * math.pi).sub(spread).abs().max() < 1e-5  # whole turns do not count
    arc = circular_spread(torch.linspace(-1.0, 1.0, 2001)[:, None])  # uniform on [-1, 1]: 1 - sin(1)
    assert float(arc[0]) == pytest.approx(1.0 - math.sin(1.0), abs=1e-3)


def test_feature_vjp_is_the_chain_rule():
    g = torch.Generator().manual_seed(1)
    q = torch.randn(7, 5, generator=g, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(7, 7, generator=g, dtype=torch.float64)
    features = angle_features(q, 2)
    (expected,) = torch.autograd.grad((features * weights).sum(), q)
    torch.testing.assert_close(angle_features_vjp(q.detach(), weights, 2), expected)


def test_squared_distance_is_periodic_and_locally_euclidean():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(20, 3, generator=g, dtype=torch.float64)
    b = a + 1e-3 * torch.randn(20, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(squared_distance(a, b, 1), (a - b).square().sum(-1), rtol=1e-5, atol=0)
    torch.testing.assert_close(squared_distance(_shift(a, 3.0), b, 1), squared_distance(a, b, 1))
    assert torch.equal(squared_distance(a, b, 0), (a - b).square().sum(-1))
    # opposite points of the circle are the farthest apart: chord² = 4
    opposite = _shift(a, 0.5)
    torch.testing.assert_close(squared_distance(opposite, a, 1), torch.full((20,), 4.0, dtype=torch.float64))


@pytest.mark.parametrize("cls", [MechanicalLagrangian, SeparableLagrangian])
def test_learned_lagrangians_are_periodic_in_the_angles_and_hand_partials_match_autograd(cls):
    torch.manual_seed(3)
    lagrangian = cls(3, 0.1, hidden=16, angles=1).double()
    g = torch.Generator().manual_seed(4)
    q0 = torch.randn(6, 3, generator=g, dtype=torch.float64)
    q1 = q0 + 0.1 * torch.randn(6, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(lagrangian(_shift(q0, 2.0), _shift(q1, 2.0)), lagrangian(q0, q1))
    with torch.no_grad():
        by_hand = lagrangian.partials(q0, q1)  # the solver's hot path (hand-derived backward pass)
        shifted = lagrangian.partials(_shift(q0, -1.0), _shift(q1, -1.0))
    x0, x1 = q0.clone().requires_grad_(), q1.clone().requires_grad_()
    d1, d2 = torch.autograd.grad(lagrangian(x0, x1).sum(), (x0, x1))
    torch.testing.assert_close(by_hand.d1, d1)
    torch.testing.assert_close(by_hand.d2, d2)
    torch.testing.assert_close(shifted.d1, by_hand.d1)


def _transition(angles: int = 1) -> DELTransition:
    torch.manual_seed(5)
    return DELTransition(3, 1, 0.1, hidden=16, tol=1e-11, max_iter=30, angles=angles).double()


def _start(batch: int = 4):
    g = torch.Generator().manual_seed(6)
    q = torch.randn(batch, 3, generator=g, dtype=torch.float64)
    q[:, 0] = math.pi - 0.05  # at the seam of [-π, π)
    q_prev = q - 0.1 * torch.randn(batch, 3, generator=g, dtype=torch.float64)
    q_prev[:, 0] = q[:, 0] - 0.25  # a fast spin: 2.5 rad per unit time
    actions = torch.rand(batch, 5, 1, generator=g, dtype=torch.float64) * 2 - 1
    return q_prev, q, torch.zeros(batch, 1, dtype=torch.float64), actions


def test_a_pair_across_the_seam_rolls_out_like_the_continuous_pair():
    """Encoded angles come wrapped to [-π, π]: a pair on either side of the seam is the same motion."""
    transition = _transition()
    q_prev, q, u_prev, actions = _start()
    continuous = converged_positions(transition, q_prev, q, u_prev, actions)
    seam = converged_positions(transition, q_prev, _shift(q, -1.0), u_prev, actions)  # θ_k written one turn lower
    torch.testing.assert_close(seam, _shift(continuous, -1.0))
    turned_prev = converged_positions(transition, _shift(q_prev, 3.0), q, u_prev, actions)
    torch.testing.assert_close(turned_prev, continuous)
    assert float((continuous[:, 1:, 0] - continuous[:, :-1, 0]).detach().abs().max()) < math.pi  # no jump of a turn
    q_next = continuous[:, 0]
    residual = transition.residual(q_prev, q, q_next, u_prev, actions[:, 0])
    assert float(residual.detach().norm(dim=-1).max()) < 1e-9
    turned = transition.residual(_shift(q_prev, -2.0), _shift(q, 1.0), _shift(q_next, 4.0), u_prev, actions[:, 0])
    torch.testing.assert_close(turned, residual)


def test_free_rotor_spins_uniformly_through_many_turns():
    """L = ½θ̇² - V(x) with no forcing: in the angle coordinate a spin is uniform motion, however fast,
    where a flat embedding of the circle would need a centripetal force."""
    from lawm_env.mechanics import MidpointLagrangian

    def mass(q):
        return torch.eye(2, dtype=q.dtype).expand(q.shape[0], 2, 2)

    lagrangian = MidpointLagrangian(mass, lambda q: 0.5 * q[:, 1].square(), dt=0.1)
    stepper = DELStepper(lagrangian, None, tol=1e-12, max_iter=30)
    q = torch.tensor([[3.0, 0.2]], dtype=torch.float64)
    state = stepper.start(q - torch.tensor([[3.0, 0.0]], dtype=torch.float64), q)  # 30 rad per unit time
    thetas = []
    for _ in range(100):
        state, info = stepper.step(state)
        thetas.append(float(state.q[0, 0].detach()))
    assert np.allclose(np.diff(thetas), 3.0, atol=1e-9)  # 48 turns, no drift of the speed


def test_implicit_gradients_with_angles():
    transition = _transition()
    q_prev, q, u_prev, actions = _start(batch=2)
    inputs = (q_prev.requires_grad_(), q.requires_grad_(), actions[:, :2].clone().requires_grad_())
    assert torch.autograd.gradcheck(lambda a, b, u: converged_positions(transition, a, b, u_prev, u), inputs, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("transition", ["lawm", "mlp"])
def test_world_model_with_angles_is_periodic_end_to_end(transition):
    torch.manual_seed(7)
    config = WorldModelConfig(action_dim=1, latent_dim=4, angles=1, hidden=16, channels=4, image_size=32, transition=transition)
    model = WorldModel(config)
    assert WorldModelConfig.from_dict(config.to_dict()) == config
    assert WorldModelConfig.from_dict({"action_dim": 1}).angles == 0  # checkpoints written before the option
    frames = torch.randint(0, 256, (2, 6, 32, 32, 3), dtype=torch.uint8)
    q = model.encode(frames)
    assert q.shape == (2, 6, 4) and float(q[..., 0].detach().abs().max()) <= math.pi
    turned = _shift(q, 2.0)
    torch.testing.assert_close(model.decode(turned), model.decode(q))
    u = torch.rand(2, 5, 1)
    torch.testing.assert_close(model.reward(turned[:, :-1], q[:, 1:], u), model.reward(q[:, :-1], q[:, 1:], u))
    observation = model.latent_observation(q[:, 0], q[:, 1])
    assert observation.shape == (2, 2 * 4 + 1)
    torch.testing.assert_close(model.latent_observation(turned[:, 0], q[:, 1]), observation)
    torch.testing.assert_close(observation, pair_features(q[:, 0], q[:, 1], 1, config.dt).float())
    start = model.start(turned[:, 0], q[:, 1], u[:, 0])
    _, imagined = model.rollout(start, u[:, 1:])
    _, reference = model.rollout(model.start(q[:, 0], q[:, 1], u[:, 0]), u[:, 1:])
    torch.testing.assert_close(imagined.positions, reference.positions, atol=1e-5, rtol=1e-5)
    if transition == "lawm":  # the learned energy along an encoded sequence does not see whole turns
        from lawm_env.evaluation.evaluate import latent_energy

        some_turned = torch.where(torch.arange(6)[None, :, None] % 2 == 1, turned, q)
        torch.testing.assert_close(latent_energy(model, some_turned, u), latent_energy(model, q, u), atol=1e-4, rtol=1e-4)
    total, report = world_model_losses(model, frames, u, torch.zeros(2, 5), 3)
    total.backward()
    assert torch.isfinite(total) and report["latent_rms"] > 0
    assert report["angle_spread"] == pytest.approx(float(circular_spread(q.detach()[..., :1])[0]), abs=1e-6)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_baseline_width_is_matched_with_angles():
    config = WorldModelConfig(action_dim=1, latent_dim=4, angles=1, hidden=32, channels=4, image_size=32)
    lawm = WorldModel(config).transition
    mlp = WorldModel(WorldModelConfig(**{**config.to_dict(), "transition": "mlp"})).transition
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert abs(count(mlp) - count(lawm)) / count(lawm) < 0.05


@pytest.mark.parametrize("bad", [-1, 5, 1.0, True])
def test_angles_must_count_coordinates(bad):
    with pytest.raises(ValueError, match="angles must be an integer"):
        WorldModel(WorldModelConfig(action_dim=1, latent_dim=4, angles=bad, hidden=8, channels=4, image_size=16))


def test_angles_option_in_training_runs(tiny_pendulum, tmp_path):

    from conftest import train_run
    from lawm_env.checkpoint import read_checkpoint
    from lawm_env.training.trainer import train

    run = tmp_path / "run"
    train(train_run(data=str(tiny_pendulum), out=str(run), angles=1, latent_dim=4, hidden=16, channels=8, steps=1,
                       batch_size=2, window=6, video_every=0, progress=False))
    assert read_checkpoint(run / "checkpoint").config["model"]["angles"] == 1


def test_env_with_angles_observes_features_and_velocity(tiny_angle_checkpoint64):
    import gymnasium as gym

    env = gym.make("LaWM-v0", checkpoint=str(tiny_angle_checkpoint64), obs_type="latent")
    try:
        obs, _ = env.reset(seed=0)
        assert obs.shape == (9,) == env.observation_space.shape
        np.testing.assert_allclose(obs[0] ** 2 + obs[1] ** 2, 1.0, rtol=1e-5)  # (cos θ, sin θ)
        for _ in range(3):
            obs, *_ = env.step(np.array([0.5], dtype=np.float32))
        np.testing.assert_allclose(obs[0] ** 2 + obs[1] ** 2, 1.0, rtol=1e-5)
    finally:
        env.close()
