"""The pixel world model: shapes, the shared interface of LaWM and its baseline, learning on tiny data."""

from __future__ import annotations

import math

import pytest
import torch

from lawm_env.model import DELTransition, MLPTransition, WorldModel, WorldModelConfig, parameter_count
from lawm_env.model.transitions import CONDITION_LIMIT
from lawm_env.training.losses import LossWeights, world_model_losses


def _config(transition: str, **kw) -> WorldModelConfig:
    return WorldModelConfig(action_dim=2, latent_dim=4, transition=transition, image_size=32, hidden=32, channels=8, **kw)


def test_encoder_decoder_shapes_and_dtypes():
    model = WorldModel(_config("lawm"))
    frames = torch.randint(0, 256, (3, 5, 32, 32, 3), dtype=torch.uint8)
    q = model.encode(frames)
    assert q.shape == (3, 5, 4) and q.dtype == torch.float32
    decoded = model.decode(q)
    assert decoded.shape == (3, 5, 32, 32, 3) and decoded.dtype == torch.float32
    assert decoded.min() >= 0 and decoded.max() <= 1
    assert torch.allclose(model.encode(frames.float() / 255), q, atol=1e-6)  # float frames in [0, 1] too
    with pytest.raises(ValueError, match="32x32"):
        model.encode(torch.zeros(2, 64, 64, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="channels-last"):
        model.encode(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="image_size"):
        WorldModel(WorldModelConfig(action_dim=1, image_size=48))


def test_encode_frame_is_encode_of_one_env_frame_and_rejects_others():
    model = WorldModel(_config("lawm"))
    frame = torch.randint(0, 256, (32, 32, 3), dtype=torch.uint8).numpy()
    q = model.encode_frame(frame)
    assert q.shape == (4,) and not q.requires_grad
    assert torch.allclose(q, model.encode(torch.from_numpy(frame)[None])[0])
    for bad in (frame.astype("float32"), frame[:16], frame.transpose(2, 0, 1)):
        with pytest.raises(ValueError, match="expected a uint8 \\(32, 32, 3\\) frame"):
            model.encode_frame(bad)


def test_lawm_and_baseline_share_everything_but_the_transition():
    torch.manual_seed(0)
    lawm = WorldModel(_config("lawm"))
    torch.manual_seed(0)
    baseline = WorldModel(_config("mlp"))
    assert isinstance(lawm.transition, DELTransition) and isinstance(baseline.transition, MLPTransition)
    shared_a = {k: v for k, v in lawm.state_dict().items() if not k.startswith("transition.")}
    shared_b = {k: v for k, v in baseline.state_dict().items() if not k.startswith("transition.")}
    assert shared_a.keys() == shared_b.keys()
    assert all(torch.equal(shared_a[k], shared_b[k]) for k in shared_a)  # same seed, same init
    a, b = parameter_count(lawm.transition), parameter_count(baseline.transition)
    assert abs(a - b) <= 0.1 * a
    frames = torch.randint(0, 256, (4, 2, 32, 32, 3), dtype=torch.uint8)
    actions = torch.rand(4, 6, 2) * 2 - 1
    for model in (lawm, baseline):
        q = model.encode(frames)
        state, imagined = model.rollout(model.start(q[:, 0], q[:, 1], actions[:, 0]), actions)
        assert imagined.positions.shape == (4, 6, 4) and imagined.rewards.shape == (4, 6)
        assert imagined.converged.all() and torch.equal(state.q, imagined.positions[:, -1])


def test_rollout_rejects_wrong_action_shapes():
    model = WorldModel(_config("lawm"))
    q = torch.zeros(3, 4)
    state = model.start(q, q, torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"\(3, H, 2\)"):
        model.rollout(state, torch.zeros(3, 5, 1))


@pytest.mark.parametrize("transition", ["lawm", "mlp"])
def test_tiny_model_overfits_tiny_synthetic_data(transition, tiny_pendulum):
    from lawm_env.data.dataset import WindowDataset

    dataset = WindowDataset(tiny_pendulum, window=8)
    batch = {k: torch.stack([dataset[i][k] for i in range(8)]) for k in ("obs", "actions", "rewards")}
    torch.manual_seed(0)
    model = WorldModel(WorldModelConfig(action_dim=0, latent_dim=4, transition=transition, image_size=32, hidden=32, channels=8))
    optimizer = torch.optim.Adam(model.parameters(), 2e-3)
    losses = []
    for _ in range(120):
        total, report = world_model_losses(model, batch["obs"], batch["actions"], batch["rewards"], horizon=4)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        losses.append(report)
    # the stated factor: reconstruction and open-loop prediction errors fall at least 4x
    assert losses[-1]["reconstruction"] < losses[0]["reconstruction"] / 4
    assert losses[-1]["prediction"] < losses[0]["prediction"] / 4


def test_open_loop_terms_leave_out_steps_after_a_non_converged_solve():
    torch.manual_seed(1)
    model = WorldModel(_config("lawm", max_iter=0, tol=1e-12))  # no Newton iteration: nothing converges
    frames = torch.randint(0, 256, (2, 6, 32, 32, 3), dtype=torch.uint8)
    actions, rewards = torch.rand(2, 5, 2) * 2 - 1, torch.rand(2, 5)
    total, report = world_model_losses(model, frames, actions, rewards, horizon=3)
    assert report["masked_steps"] == 1.0 and report["prediction"] == 0.0 and report["latent"] == 0.0
    total.backward()  # the rest of the loss still trains
    assert model.encoder.head.weight.grad.abs().sum() > 0
    converging = WorldModel(_config("lawm"))
    _, report = world_model_losses(converging, frames, actions, rewards, horizon=3)
    assert report["masked_steps"] == 0.0 and report["prediction"] > 0


def test_log_mass_condition_is_the_condition_number_of_the_learned_mass():
    torch.manual_seed(0)
    transition = DELTransition(4, 2, hidden=16)
    q = torch.randn(6, 4, dtype=torch.float64)
    transition.double()
    expected = torch.linalg.cond(transition.lagrangian.mass(q)).log()
    torch.testing.assert_close(transition.log_mass_condition(q), expected, rtol=1e-9, atol=1e-9)
    assert WorldModel(_config("mlp")).mass_condition(torch.zeros(3, 4)).isnan().all()  # the baseline has no mass


def test_conditioning_term_acts_only_above_the_limit_and_trains_only_the_lagrangian():
    torch.manual_seed(0)
    model = WorldModel(_config("lawm"))
    frames = torch.randint(0, 256, (2, 6, 32, 32, 3), dtype=torch.uint8)
    actions, rewards = torch.rand(2, 5, 2) * 2 - 1, torch.rand(2, 5)
    _, report = world_model_losses(model, frames, actions, rewards, horizon=3)
    assert "conditioning" not in report  # off by default: not computed
    weights = LossWeights(reconstruction=0, prediction=0, latent=0, reward=0, residual=0, mass=0, conditioning=1.0)
    total, report = world_model_losses(model, frames, actions, rewards, horizon=3, weights=weights)
    assert report["condition_max"] < CONDITION_LIMIT and report["conditioning"] == 0.0  # a fresh mass is well conditioned
    q = torch.randn(5, 4)
    with torch.no_grad():  # make M(q) nearly singular: a large first column of the factor's last layer
        model.transition.lagrangian.trunk[-1].bias[0] = 30.0
    log_condition = model.transition.log_mass_condition(q)
    assert log_condition.exp().min() > CONDITION_LIMIT
    terms, _ = model.regularizers(torch.randn(1, 3, 4), torch.zeros(1, 2, 2), q)
    torch.testing.assert_close(terms["conditioning"], (log_condition - math.log(CONDITION_LIMIT)).square().mean())
    total, report = world_model_losses(model, frames, actions, rewards, horizon=3, weights=weights)
    assert report["conditioning"] > 0
    total.backward()
    assert model.transition.lagrangian.trunk[0].weight.grad.abs().sum() > 0
    assert model.encoder.head.weight.grad is None or model.encoder.head.weight.grad.abs().sum() == 0


def test_the_baseline_has_no_conditioning_term():
    model = WorldModel(_config("mlp"))
    frames = torch.randint(0, 256, (2, 6, 32, 32, 3), dtype=torch.uint8)
    weights = LossWeights(conditioning=1.0)
    _, report = world_model_losses(model, frames, torch.zeros(2, 5, 2), torch.zeros(2, 5), horizon=3, weights=weights)
    assert "conditioning" not in report
