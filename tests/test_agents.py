"""The actor-critic in imagination: λ-returns, return scale, gradients through the imagined DEL dynamics,
masking of failed solves, learning on a small latent task, and the agent acting from frames."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from agents import ActorCritic, ActorCriticAgent, ActorCriticConfig, ReturnNormalizer, frozen, imagine, lambda_returns, start_states
from agents.actor_critic_networks import Actor, Critic, symexp, symlog
from lawm_env.mechanics import DELInfo, DELStepper, SeparableLagrangian
from lawm_env.model import TransitionState, WorldModel, WorldModelConfig


# ----------------------------------------------------------------------------------------------- returns
def test_lambda_returns_hand_computed():
    rewards, values = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 3.0, 4.0]])
    # R_1 = 2 + 0.5·4 = 4;  R_0 = 1 + 0.5·(0.5·3 + 0.5·4) = 2.75
    assert torch.allclose(lambda_returns(rewards, values, discount=0.5, lam=0.5), torch.tensor([[2.75, 4.0]]))
    assert torch.allclose(lambda_returns(rewards, values, discount=0.5, lam=1.0), torch.tensor([[3.0, 4.0]]))  # Monte Carlo
    assert torch.allclose(lambda_returns(rewards, values, discount=0.5, lam=0.0), torch.tensor([[2.5, 4.0]]))  # TD(0)
    continues = torch.tensor([[0.0, 1.0]])  # s_1 terminal
    assert torch.allclose(lambda_returns(rewards, values, discount=0.5, lam=0.5, continues=continues), torch.tensor([[1.0, 4.0]]))


def test_lambda_returns_cut_ignores_what_follows():
    rewards, values = torch.tensor([[1.0, float("nan")]]), torch.tensor([[0.0, 3.0, float("inf")]])
    returns = lambda_returns(rewards, values, discount=0.5, lam=torch.tensor([[0.0, 0.95]]))
    assert returns[0, 0].item() == 2.5


def test_lambda_returns_shape_error():
    with pytest.raises(ValueError, match="H \\+ 1"):
        lambda_returns(torch.zeros(2, 3), torch.zeros(2, 3))


def test_return_normalizer_percentiles_and_ema():
    norm = ReturnNormalizer(decay=0.5)
    assert norm.scale == 1.0
    assert norm.update(torch.linspace(0, 100, 101)) == pytest.approx(90.0)  # P95 - P5
    assert norm.update(torch.linspace(0, 10, 101)) == pytest.approx(0.5 * 90.0 + 0.5 * 9.0)
    copy = ReturnNormalizer(decay=0.5)
    assert copy.scale == 1.0
    copy.load_state_dict(norm.state_dict())
    assert copy.scale == norm.scale
    small = ReturnNormalizer()
    assert small.update(torch.tensor([0.0, 0.1, float("nan")])) == 1.0  # range below the limit of 1


# ------------------------------------------------------------------------------------- a small latent task
class Oscillator(nn.Module):
    """A known 1-D latent task: unit mass on a unit spring (V = q²/2), the action a force of up to 3,
    stepped by the implicit DEL solver (Newton path, implicit gradients); reward -q_{k+1}². With
    ``fail_after`` the solves after that many steps return a finite wrong iterate flagged not converged."""

    def __init__(self, dt: float = 0.1, gain: float = 3.0) -> None:
        super().__init__()
        self.config = SimpleNamespace(dt=dt, latent_dim=1, action_dim=1)
        lagrangian = SeparableLagrangian(1, dt, potential=lambda q: 0.5 * q.square().sum(-1), mass=torch.eye(1))
        self.stepper = DELStepper(lagrangian, lambda q0, q1, u: 0.5 * dt * gain * u, tol=1e-6, method="newton")
        self.fail_after: int | None = None
        self.steps = 0
        self.solved: list[Tensor] = []

    def start(self, q_prev: Tensor, q: Tensor, u_prev: Tensor) -> TransitionState:
        self.steps = 0
        return TransitionState(q_prev, q, u_prev, self.stepper.start(q_prev, q, u_prev))

    def step(self, state: TransitionState, u: Tensor, active: Tensor | None = None) -> tuple[TransitionState, DELInfo]:
        inner, info = self.stepper.step(state.inner, u, active)
        self.steps += 1
        self.solved.append(torch.ones_like(info.converged) if active is None else active)
        if self.fail_after is not None and self.steps > self.fail_after:
            inner = inner._replace(q=inner.q + 10.0)
            info = info._replace(converged=torch.zeros_like(info.converged))
        return TransitionState(state.q, inner.q, u, inner), info

    def reward(self, q: Tensor, q_next: Tensor, u: Tensor) -> Tensor:
        return -q_next.square().sum(-1)


def oscillator_starts(n: int, seed: int) -> TransitionState:
    q = torch.rand(n, 1, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return Oscillator().start(q, q, torch.zeros(n, 1))


@torch.no_grad()
def greedy_return(model: Oscillator, learner: ActorCritic, start: TransitionState, horizon: int) -> float:
    return float(imagine(model, learner.actor, start, horizon, explore=False).rewards.sum(1).mean())


@pytest.fixture
def one_thread():
    """Tiny batches run fastest on one thread (and do not fight other processes for cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_actor_critic_improves_on_small_latent_task(one_thread):
    """Within 25 updates (about 2 s) the greedy 15-step cost Σ q² from held-out starts drops by at least 40%:
    the untrained actor (actions near 0) leaves the spring oscillating, the trained one brakes it (measured
    over seeds 0-4: drops of 46-56%)."""
    torch.manual_seed(0)
    model = Oscillator()
    learner = ActorCritic(1, 1, model.config.dt, ActorCriticConfig(hidden=64, actor_lr=3e-3, critic_lr=3e-3))
    held_out = oscillator_starts(128, seed=123)
    before = greedy_return(model, learner, held_out, 15)
    generator = torch.Generator().manual_seed(0)
    for i in range(25):
        metrics = learner.learn(model, oscillator_starts(64, seed=i), generator)
    after = greedy_return(model, learner, held_out, 15)
    assert metrics["valid_steps"] == 1.0 and metrics["skipped_updates"] == 0
    assert after > 0.6 * before, (before, after)


def test_failed_solves_are_cut_from_the_losses():
    """A horizon-15 update whose DEL solves fail from step 6 on (finite garbage, flagged) equals a horizon-5
    update: the return at step 4 bootstraps from V(s_5) and nothing later enters the losses or gradients."""
    torch.manual_seed(0)
    failing = Oscillator()
    failing.fail_after = 5
    cut = ActorCritic(1, 1, failing.config.dt, ActorCriticConfig(hidden=16, horizon=15))
    short = ActorCritic(1, 1, failing.config.dt, ActorCriticConfig(hidden=16, horizon=5))
    short.load_state_dict(cut.state_dict())
    start = oscillator_starts(8, 0)
    traj = imagine(failing, cut.actor, start, 10)
    assert traj.valid[:, :5].eq(1).all() and traj.valid[:, 5:].eq(0).all()
    solved = torch.stack(failing.solved, 1)
    assert solved[:, :6].all() and not solved[:, 6:].any()  # the failed step 6 was solved, the later ones not
    failing.steps = 0
    metrics = cut.learn(failing, start, torch.Generator().manual_seed(0))
    reference = short.learn(Oscillator(), start, torch.Generator().manual_seed(0))
    assert metrics["valid_steps"] == pytest.approx(5 / 15) and metrics["skipped_updates"] == 0
    for key in ("actor_loss", "critic_loss", "imagined_return", "return_scale", "actor_grad_norm", "critic_grad_norm"):
        assert metrics[key] == pytest.approx(reference[key], rel=1e-5), key
    for a, b in zip(cut.actor.parameters(), short.actor.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_terminal_failures_take_the_value_beyond_a_failed_solve():
    """With failure='terminal' the last valid step's return is its reward alone: with a target critic worth 5
    everywhere, the mean first-step return of a rollout failing after 5 steps is lower than with bootstrapping
    by exactly the discounted, λ-weighted share of V(s_5) = 5 that reaches R_0."""
    torch.manual_seed(0)
    start = oscillator_starts(8, 0)
    imagined = {}
    for mode in ("bootstrap", "terminal"):
        failing = Oscillator()
        failing.fail_after = 5
        torch.manual_seed(1)
        learner = ActorCritic(1, 1, failing.config.dt, ActorCriticConfig(hidden=16, horizon=15, failure=mode))
        last = learner.target.net[-1]
        with torch.no_grad():
            last.weight.zero_()
            last.bias.fill_(float(symlog(torch.tensor(5.0))))  # the critic predicts symlog V
        imagined[mode] = learner.learn(failing, start, torch.Generator().manual_seed(0))["imagined_return"]
    cfg = ActorCriticConfig()
    # R_0 reaches V(s_5) through four λ-weighted steps and the (1 - λ_4 = 1) bootstrap of R_4: γ^5 λ^4 · 5
    expected = cfg.discount**5 * cfg.lam**4 * 5.0
    assert imagined["bootstrap"] - imagined["terminal"] == pytest.approx(expected, rel=1e-4)


def test_reinforce_gradient_updates_the_actor_without_dynamics_gradients():
    torch.manual_seed(0)
    model = Oscillator()
    learner = ActorCritic(1, 1, model.config.dt, ActorCriticConfig(hidden=16, actor_gradient="reinforce"))
    before = [p.clone() for p in learner.actor.parameters()]
    metrics = learner.learn(model, oscillator_starts(16, 0), torch.Generator().manual_seed(0))
    assert all(np.isfinite(v) for v in metrics.values()) and metrics["actor_grad_norm"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, learner.actor.parameters()))


# --------------------------------------------------------------------------- gradients through the model
def tiny_world_model(transition: str = "lawm", dtype: torch.dtype = torch.float32) -> WorldModel:
    torch.manual_seed(0)
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    model = WorldModel(WorldModelConfig(action_dim=1, latent_dim=4, image_size=32, hidden=32, channels=8, transition=transition, tol=tol, rtol=0.0))
    return model.to(dtype)


def tiny_batch() -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"obs": torch.randint(0, 256, (2, 5, 32, 32, 3), dtype=torch.uint8, generator=g),
            "actions": torch.rand(2, 4, 1, generator=g) * 2 - 1, "rewards": torch.zeros(2, 4)}


def test_actor_mean_is_bounded_and_log_probs_stay_finite():
    """However far the network pushes μ, the Gaussian's mean stays within ±mean_limit, so a saturated sample
    cannot raise log π without limit; mean_limit=inf gives the raw network output."""
    torch.manual_seed(0)
    bounded, unbounded = Actor(8, 1, hidden=16, mean_limit=5.0), Actor(8, 1, hidden=16, mean_limit=float("inf"))
    unbounded.load_state_dict(bounded.state_dict())
    features = torch.randn(64, 8)
    with torch.no_grad():
        small = unbounded.distribution(features)[0]  # a small output passes nearly unchanged
        assert float(small.abs().max()) < 1.0
        torch.testing.assert_close(bounded.distribution(features)[0], small, atol=5e-3, rtol=0)
        for actor in (bounded, unbounded):
            actor.net[-1].bias.copy_(torch.tensor([1e4, 0.0]))
        mean, _ = bounded.distribution(features)
        assert float(mean.abs().max()) <= 5.0 and float(mean.min()) > 4.99
        assert float(unbounded.distribution(features)[0].min()) > 9e3
        sample = bounded.sample(features, torch.Generator().manual_seed(0))
        assert bool(torch.isfinite(sample.log_prob).all()) and float(sample.log_prob.max()) < 30
        assert float(unbounded.sample(features, torch.Generator().manual_seed(0)).log_prob.min()) > 1e4
    for bad in (0.0, float("nan")):
        with pytest.raises(ValueError, match="mean_limit"):
            Actor(8, 1, mean_limit=bad)


def test_normalized_critic_is_bounded_far_from_its_data():
    """Scaling the input from 10³ to 10⁶ moves the LayerNorm critic's value by almost nothing, while the plain
    MLP critic's value grows with the input, as its last linear pieces extrapolate."""
    torch.manual_seed(0)
    features = torch.randn(64, 8)
    with torch.no_grad():
        for norm in (True, False):
            critic = Critic(8, hidden=16, norm=norm, symlog=False)
            near, far = critic(1e3 * features), critic(1e6 * features)
            if norm:
                torch.testing.assert_close(far, near, atol=1e-3, rtol=0)
            else:
                assert float(far.abs().mean()) > 100 * float(near.abs().mean())


def test_symlog_critic_regresses_values_of_any_scale():
    """symexp inverts symlog; a symlog critic's loss is the squared error of symlog values, and 300 Adam steps
    fit targets spread from 1 to 800 to within 10% of each (the same steps leave the plain critic at the
    far end off by more than that)."""
    x = torch.tensor([-800.0, -1.0, 0.0, 0.3, 5.0, 800.0])
    torch.testing.assert_close(symexp(symlog(x)), x)
    torch.testing.assert_close(symlog(torch.tensor([0.0, math.e - 1])), torch.tensor([0.0, 1.0]))
    features = torch.eye(8)
    targets = torch.tensor([1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 600.0, 800.0])
    errors = {}
    for use_symlog in (True, False):
        torch.manual_seed(0)
        critic = Critic(8, hidden=32, symlog=use_symlog)
        with torch.no_grad():
            expected = 0.5 * (critic.net(features).squeeze(-1) - (symlog(targets) if use_symlog else targets)).square()
        torch.testing.assert_close(critic.loss(features, targets), expected)
        optimizer = torch.optim.Adam(critic.parameters(), lr=1e-2)
        for _ in range(300):
            optimizer.zero_grad()
            critic.loss(features, targets).mean().backward()
            optimizer.step()
        with torch.no_grad():
            errors[use_symlog] = float(((critic(features) - targets).abs() / targets).max())
    assert errors[True] < 0.1 < errors[False], errors


@pytest.mark.parametrize("transition", ["lawm", "mlp"])
def test_gradients_reach_the_actor_through_the_dynamics_only(transition):
    model = tiny_world_model(transition)
    batch = tiny_batch()
    start = start_states(model, batch["obs"], batch["actions"])
    actor = Actor(8, 1, hidden=16)
    with frozen(model):
        traj = imagine(model, actor, start, 5, generator=torch.Generator().manual_seed(0))
        final = traj.features[:, -1, :4].sum()  # the last imagined position: depends on the actor only through the dynamics
        final.backward()
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())  # flags restored
    assert sum(float(p.grad.abs().sum()) for p in actor.parameters()) > 0
    with frozen(model):
        detached = imagine(model, actor, start, 5, dynamics_gradient=False)
        final = detached.features[:, -1, :4].sum() + detached.rewards.sum()
        grads = torch.autograd.grad(final, list(actor.parameters()), allow_unused=True) if final.requires_grad else [None]
    assert all(g is None or not g.any() for g in grads)


def test_dynamics_gradient_matches_finite_differences():
    """d(final imagined position)/d(actor output bias) through five implicit DEL solves, in float64."""
    model = tiny_world_model("lawm", torch.float64)
    g = torch.Generator().manual_seed(0)
    q_prev = 0.3 * torch.randn(6, 4, generator=g, dtype=torch.float64)
    start = model.start(q_prev, q_prev + 0.02 * torch.randn(6, 4, generator=g, dtype=torch.float64), torch.zeros(6, 1, dtype=torch.float64))
    actor = Actor(8, 1, hidden=16).double()
    bias = actor.net[-1].bias

    def final_position() -> Tensor:
        with frozen(model):
            traj = imagine(model, actor, start, 5, generator=torch.Generator().manual_seed(0))
        assert bool(traj.valid.all())
        return traj.features[:, -1, :4].sum()

    (grad,) = torch.autograd.grad(final_position(), bias)
    eps = 1e-6
    with torch.no_grad():
        bias[0] += eps
        plus = final_position()
        bias[0] -= 2 * eps
        minus = final_position()
        bias[0] += eps
    assert float(grad[0]) == pytest.approx(float(plus - minus) / (2 * eps), rel=1e-4, abs=1e-8)


# -------------------------------------------------------------------------------------------------- agent
def test_agent_acts_updates_and_restores(device):
    model = tiny_world_model().to(device)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    agent = ActorCriticAgent(model, ActorCriticConfig(hidden=16, starts=6, horizon=4), seed=0)
    frame = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    agent.reset()
    action = agent.act(frame, explore=True)
    assert action.shape == (1,) and action.dtype == np.float32 and np.all(np.abs(action) <= 1)
    metrics = agent.update(model, tiny_batch())
    assert {"actor_loss", "critic_loss", "imagined_return", "return_scale"} <= set(metrics)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())  # the world model is not updated
    assert not any(k.startswith("_model") or k.startswith("model") for k in agent.state_dict())
    other = ActorCriticAgent(model, ActorCriticConfig(hidden=16, starts=6, horizon=4), seed=0)
    other.load_state_dict(agent.state_dict())
    for name, optimizer in other.optimizers().items():
        optimizer.load_state_dict(agent.optimizers()[name].state_dict())
    agent.reset(seed=3)
    other.reset(seed=3)
    assert all(np.array_equal(agent.act(frame, explore=True), other.act(frame, explore=True)) for _ in range(3))
    assert agent.update(model, tiny_batch()) == other.update(model, tiny_batch())  # resumed updates repeat
    zeros = torch.zeros(3, 4, device=device)
    state = model.start(zeros, zeros, torch.zeros(3, 1, device=device))
    assert agent.value(state).shape == (3,)
    assert np.isfinite(agent.imagined_episode_return(5))


# --------------------------------------------------------------------------------------- the online loop
TINY_LOOP = ["--online.seed-episodes", "1", "--online.episode-steps", "6", "--online.initial-train-steps", "2",
             "--online.train-steps", "2", "--online.batch-size", "2", "--online.window", "4", "--online.model.latent-dim", "4",
             "--online.model.hidden", "16", "--online.model.channels", "8", "--online.threads", "1", "--online.device", "cpu",
             "--agent.horizon", "3", "--agent.starts", "8", "--agent.hidden", "16"]


def test_actor_critic_loop_logs_real_and_imagined_returns_and_resumes_exactly(tmp_path, capsys):
    import csv

    from lawm_env.cli import main

    main(["actor-critic", "--online.out", str(tmp_path / "once"), "--online.iterations", "2", *TINY_LOOP])
    main(["actor-critic", "--online.out", str(tmp_path / "twice"), "--online.iterations", "1", *TINY_LOOP])
    main(["actor-critic", "--online.out", str(tmp_path / "twice"), "--online.iterations", "2", *TINY_LOOP])

    def rows(run: str, name: str) -> list[dict]:
        with open(tmp_path / run / name) as f:
            return list(csv.DictReader(f))

    once, twice = rows("once", "returns.csv"), rows("twice", "returns.csv")
    assert [(r["kind"], r["env_steps"]) for r in once] == [("random", "6"), ("agent", "12"), ("agent", "18")]
    assert [r["return"] for r in once] == [r["return"] for r in twice]  # the resumed run collects the same episodes
    logged = rows("once", "actor_critic/metrics.csv")
    assert [r["step"] for r in logged] == ["12", "18"] and all(np.isfinite(float(r["imagined_return"])) for r in logged)
    assert [r["real_return"] for r in logged] == [r["real_return"] for r in rows("twice", "actor_critic/metrics.csv")]
    assert "imagined" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="other actor-critic options.*entropy"):  # a user error: one line
        main(["actor-critic", "--online.out", str(tmp_path / "once"), "--online.iterations", "3", *TINY_LOOP, "--agent.entropy", "0.1"])
    # a run recorded by an earlier version (options without a run format) is refused, not guessed at
    import json

    from lawm_env.cli.actor_critic import AGENT_OPTIONS
    options = tmp_path / "once" / AGENT_OPTIONS
    options.write_text(json.dumps(json.loads(options.read_text())["options"]))
    with pytest.raises(SystemExit, match="another version of lawm"):
        main(["actor-critic", "--online.out", str(tmp_path / "once"), "--online.iterations", "3", *TINY_LOOP])
