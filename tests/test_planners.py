"""Planners on analytic objectives with known optima: quadratic, point-mass reaching, Rosenbrock trajectory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lawm_env.noise import ActionNoise
from planners import CEM, ICEM, MPPI, PLANNERS
from planners.config import PlannerConfig
from planners.sampling import colored_noise, truncated_normal

FAST = {
    "cem": dict(population=300, elites=30, iterations=12),
    "mppi": dict(population=300, iterations=12, temperature=0.01, noise_std=0.15),
    "icem": dict(population=300, elites=30, iterations=12, init_std=0.5, beta=0.0),  # white noise: per-step targets
}


def make(name: str, horizon: int, dim: int, device="cpu", seed: int = 0, low=-1.0, high=1.0, **extra):
    return PLANNERS[name](horizon, dim, low, high, seed=seed, device=device, **{**FAST[name], **extra})


def quadratic(target: torch.Tensor):
    return lambda a: -(a - target).square().sum((1, 2))


@pytest.mark.parametrize("name", ["cem", "mppi", "icem"])
def test_quadratic_optimum_inside_the_box(name, device):
    target = torch.tensor([[0.3, -0.5], [0.1, 0.7], [-0.8, 0.0], [0.5, 0.5]], device=device)
    planner = make(name, 4, 2, device)
    result = planner.plan(quadratic(target))
    assert (result.actions - target).abs().max() < 0.08
    assert result.value > -0.02
    assert result.actions.shape == (4, 2) and result.actions.device.type == device.type


@pytest.mark.parametrize("name", ["cem", "mppi", "icem"])
def test_optimum_outside_the_box_lands_on_the_bound_and_bounds_hold(name):
    low, high = torch.tensor([-1.0, 0.0]), torch.tensor([0.5, 2.0])
    target = torch.tensor([[2.0, -3.0]]).expand(3, 2)
    seen = []
    planner = make(name, 3, 2, low=low, high=high)
    objective = quadratic(target)

    def recording(actions):
        seen.append(actions.clone())
        return objective(actions)

    result = planner.plan(recording)
    sampled = torch.cat(seen)
    assert torch.all(sampled >= low) and torch.all(sampled <= high), "an objective was asked about actions outside the bounds"
    assert torch.allclose(result.actions, torch.tensor([[0.5, 0.0]]).expand(3, 2), atol=0.05)


def point_mass_objective(goal: torch.Tensor, horizon: int, dt: float = 0.5):
    """A 2-D double integrator from rest at the origin; reward: reach ``goal`` at rest at the end."""
    def objective(actions):
        velocity = torch.cumsum(actions, 1) * dt
        position = torch.cumsum(velocity, 1) * dt
        return -((position[:, -1] - goal).square().sum(-1) + velocity[:, -1].square().sum(-1))
    return objective


@pytest.mark.parametrize("name", ["cem", "mppi", "icem"])
def test_point_mass_reaches_the_goal_at_rest(name):
    goal = torch.tensor([1.0, -0.5])
    objective = point_mass_objective(goal, 8)
    result = make(name, 8, 2, iterations=20, **({"beta": 2.0} if name == "icem" else {})).plan(objective)
    velocity = torch.cumsum(result.actions, 0) * 0.5
    position = torch.cumsum(velocity, 0) * 0.5
    assert (position[-1] - goal).norm() < 0.1
    assert velocity[-1].norm() < 0.1


def rosenbrock_trajectory(actions):
    x, y = actions[..., 0], actions[..., 1]
    return -((1 - x).square() + 100 * (y - x.square()).square()).sum(-1)


ROSENBROCK = {
    "cem": dict(population=500, elites=25, iterations=100, min_std=0.05, momentum=0.2),
    "icem": dict(population=500, elites=25, iterations=100, min_std=0.05, momentum=0.2),
    "mppi": dict(population=500, iterations=100, temperature=0.01, noise_std=0.05),
}


@pytest.mark.parametrize("name", ["cem", "mppi", "icem"])
def test_rosenbrock_trajectory(name):
    """Two steps of the Rosenbrock valley (optimum 0 at all ones; -2 at the center of the box). Diagonal
    sampling crawls along the curved valley, so the stated tolerance is 15% of the initial gap in value."""
    planner = make(name, 2, 2, low=-2.0, high=2.0, **{**ROSENBROCK[name], **({"beta": 0.0} if name == "icem" else {})})
    result = planner.plan(rosenbrock_trajectory)
    assert result.value > -0.3
    assert (result.actions - 1.0).abs().max() < 0.65
    assert float(rosenbrock_trajectory(result.actions[None])[0]) == pytest.approx(result.value, abs=1e-5)


@pytest.mark.parametrize("name", ["cem", "mppi", "icem"])
def test_determinism_by_seed(name):
    objective = point_mass_objective(torch.tensor([0.5, 0.5]), 6)
    a = make(name, 6, 2, seed=3, iterations=3).plan(objective).actions
    b = make(name, 6, 2, seed=3, iterations=3).plan(objective).actions
    c = make(name, 6, 2, seed=4, iterations=3).plan(objective).actions
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    planner = make(name, 6, 2, seed=3, iterations=3)
    first = planner.plan(objective).actions
    planner.reset(seed=3)
    assert torch.equal(planner.plan(objective).actions, first)


@pytest.mark.parametrize("name", ["cem", "mppi", "icem"])
def test_warm_start_is_the_previous_plan_shifted(name):
    planner = make(name, 5, 1, iterations=2)
    result = planner.plan(quadratic(torch.linspace(-0.5, 0.5, 5)[:, None]))
    expected = torch.cat([result.actions[1:], result.actions[-1:]])
    assert torch.equal(planner.initial_mean(), expected)
    planner.reset()
    assert torch.equal(planner.initial_mean(), torch.zeros(5, 1))


def test_warm_start_helps_a_receding_horizon():
    """With few iterations a warm-started planner tracks a fixed target better than a cold one."""
    target = torch.full((6, 1), 0.6)
    warm, cold = CEM(6, 1, population=32, elites=4, iterations=1, seed=0), CEM(6, 1, population=32, elites=4, iterations=1, seed=0)
    for _ in range(6):
        w = warm.plan(quadratic(target))
        cold.reset()
        c = cold.plan(quadratic(target))
    assert w.value > c.value


def test_icem_population_decays_and_evaluations_counted():
    planner = ICEM(4, 1, population=400, elites=20, iterations=4, decay=2.0, keep_elites=0.5)
    calls = []
    planner.plan(lambda a: calls.append(a.shape[0]) or -a.square().sum((1, 2)))
    assert calls[0] == 400 and calls[1] == 200 + 10 and calls[2] == 100 + 10 and calls[3] == 50 + 10 + 1
    assert planner.population_at(10) == 40


def test_colored_noise_unit_variance_and_smoothness():
    g = torch.Generator().manual_seed(0)
    white, red = colored_noise(4000, 16, 2, 0.0, g), colored_noise(4000, 16, 2, 2.0, g)
    assert abs(float(white.var()) - 1) < 0.05 and abs(float(red.var()) - 1) < 0.05
    step_var = lambda x: float((x[:, 1:] - x[:, :-1]).var())  # noqa: E731
    assert step_var(red) < 0.5 * step_var(white)


def _lag_one(x: np.ndarray) -> float:
    return float(np.corrcoef(x[:-1], x[1:])[0, 1])


def test_action_noise_white_is_the_plain_gaussian_draws():
    noise = ActionNoise(0.3, 0.0, seed=5)
    rng = np.random.default_rng(5)
    for _ in range(4):
        np.testing.assert_array_equal(noise.sample(2), rng.normal(0.0, 0.3, 2))
    noise.reset(5)
    np.testing.assert_array_equal(noise.sample(2), np.random.default_rng(5).normal(0.0, 0.3, 2))


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_action_noise_colored_is_seeded_scaled_and_holds_its_sign(beta):
    def draws(seed: int, steps: int = 2000) -> np.ndarray:
        noise = ActionNoise(0.3, beta, seed=seed, block=200)
        return np.stack([noise.sample(1) for _ in range(steps)])[:, 0]

    x = draws(0)
    np.testing.assert_array_equal(x, draws(0))
    assert not np.array_equal(x, draws(1))
    assert abs(float(x.std()) - 0.3) < 0.1 * (1 + beta)  # unit-variance blocks scaled by std; red wanders more
    plain = ActionNoise(0.3, 0.0, seed=0)
    white = np.stack([plain.sample(1) for _ in range(2000)])[:, 0]
    assert abs(_lag_one(white)) < 0.1 and _lag_one(x) > 0.4
    noise = ActionNoise(0.3, beta, seed=0, block=8)  # a new block every 8 steps, and for a new action size
    assert [noise.sample(1).shape for _ in range(9)] == [(1,)] * 9 and noise.sample(3).shape == (3,)


@pytest.mark.parametrize("std, beta", [(-0.1, 0.0), (float("nan"), 0.0), (0.3, -1.0), (0.3, 5.0), (0.3, float("inf"))])
def test_action_noise_rejects_bad_options(std, beta):
    with pytest.raises(ValueError, match="std|exponent"):
        ActionNoise(std, beta)


def test_truncated_normal_stays_in_bounds_and_matches_moments():
    g = torch.Generator().manual_seed(0)
    mean, std = torch.zeros(1, 1), torch.ones(1, 1)
    x = truncated_normal(mean, std, torch.tensor(-1.0), torch.tensor(1.0), 20000, g)
    assert x.min() >= -1 and x.max() <= 1
    assert abs(float(x.var()) - 0.2911) < 0.01  # variance of N(0,1) truncated to [-1, 1]
    wide = truncated_normal(mean, std, torch.tensor(-50.0), torch.tensor(50.0), 20000, g)
    assert abs(float(wide.std()) - 1) < 0.03


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="elites"):
        CEM(3, 1, population=10, elites=20)
    with pytest.raises(ValueError, match="low < high"):
        CEM(3, 1, 1.0, -1.0)
    with pytest.raises(ValueError, match="bound"):
        MPPI(3, 2, torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="objective must return"):
        CEM(3, 1, population=8, elites=2).plan(lambda a: a.sum(-1))


def test_nan_returns_never_win():
    def objective(actions):
        value = -(actions - 0.5).square().sum((1, 2))
        return torch.where(actions[:, 0, 0] > 0.8, torch.full_like(value, float("nan")), value)
    result = CEM(2, 1, population=200, elites=20, iterations=8).plan(objective)
    assert torch.isfinite(torch.tensor(result.value)) and result.actions[0, 0] <= 0.8


@pytest.mark.parametrize("name, settings", [("cem", "7 elites"), ("mppi", "temperature 3, noise std 0.2"), ("icem", "7 elites, beta 1")])
def test_planner_config_builds_and_describes_its_planner(name, settings):
    config = PlannerConfig(name, horizon=6, population=40, elites=7, iterations=2, temperature=3.0, noise_std=0.2, beta=1.0)
    planner = config.build(2, seed=1)
    assert type(planner) is PLANNERS[name] and (planner.horizon, planner.action_dim, planner.population) == (6, 2, 40)
    assert config.describe() == f"{name} (population 40, horizon 6, 2 iterations, {settings})"
    with pytest.raises(ValueError, match="planner must be"):
        PlannerConfig("random").build(1)
    assert PlannerConfig.closed_loop(name).describe().startswith(f"{name} (population 150, horizon 12, 4 iterations, ")
