"""Synthetic suite: determinism, energy behaviour, analytic checks, mask-consistent rendering."""

from __future__ import annotations

import numpy as np
import pytest

from lawm_env.data.synthetic import SYSTEMS, generate_episode, make_system
from lawm_env.data.synthetic.oscillators import G

CONSERVATIVE = [n for n, cls in SYSTEMS.items() if cls.conservative]
DISSIPATIVE = [n for n, cls in SYSTEMS.items() if not cls.conservative]


def test_registry_has_the_nine_systems():
    expected = {"uniform", "acceleration", "parabolic", "slope", "circular", "pendulum", "damped_pendulum", "spring", "orbit"}
    assert expected <= set(SYSTEMS)
    assert set(DISSIPATIVE) == {"slope", "damped_pendulum"}


def test_unknown_system_lists_valid_names():
    with pytest.raises(ValueError, match="pendulum.*orbit|orbit.*pendulum"):
        make_system("pendulum_typo")


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_seeded_determinism(name):
    system = make_system(name)
    a, b, c = (generate_episode(system, s, 20, 32) for s in (7, 7, 8))
    assert np.array_equal(a.obs, b.obs) and np.array_equal(a.states, b.states)
    assert np.array_equal(a.energies, b.energies) and np.array_equal(a.extras["masks"], b.extras["masks"])
    assert not np.array_equal(a.states, c.states)


@pytest.mark.parametrize("name", CONSERVATIVE)
def test_conservative_systems_conserve_energy(name):
    system = make_system(name)
    for seed in range(4):
        traj = system.simulate(np.random.default_rng(seed), 200)
        e = traj.energy
        scale = max(np.abs(e).max(), 1e-12)
        assert np.abs(e - e[0]).max() / scale < 1e-6, name


@pytest.mark.parametrize("name", DISSIPATIVE)
def test_dissipative_systems_lose_energy_monotonically(name):
    system = make_system(name)
    for seed in range(6):
        e = system.simulate(np.random.default_rng(seed), 150).energy
        assert np.all(np.diff(e) <= 1e-9 * max(1.0, np.abs(e).max())), (name, seed)
        assert e[-1] < e[0] - 1e-3 * abs(e[0]) or name == "slope", (name, seed)


def test_slope_matches_closed_form_and_loses_energy_while_moving():
    system = make_system("slope")
    p = {"mass": 1.0, "incline": np.radians(30.0), "friction": 0.3, "side": 1.0}
    y, dt = np.array([0.0, 2.0]), 0.01
    ys = [y]
    for _ in range(100):
        ys.append(system.advance(ys[-1], p, dt))
    ys = np.array(ys)
    up = G * (np.sin(p["incline"]) + p["friction"] * np.cos(p["incline"]))
    t_stop = 2.0 / up
    s_top = 2.0 * t_stop - 0.5 * up * t_stop**2
    down = G * (np.sin(p["incline"]) - p["friction"] * np.cos(p["incline"]))
    t = 1.0 - t_stop
    assert ys[-1, 0] == pytest.approx(s_top - 0.5 * down * t**2, rel=1e-12)
    assert ys[-1, 1] == pytest.approx(-down * t, rel=1e-12)
    e = system.energy(ys, p)
    assert np.all(np.diff(e) < 0.0)  # the block never rests here: tan(30 deg) > 0.3


def test_parabolic_flight_matches_closed_form():
    system = make_system("parabolic")
    traj = system.simulate(np.random.default_rng(3), 50)
    y0, t = traj.coords[0], np.arange(51) * system.dt
    np.testing.assert_allclose(traj.coords[:, 0], y0[0] + y0[2] * t, atol=1e-12)
    np.testing.assert_allclose(traj.coords[:, 1], y0[1] + y0[3] * t - 0.5 * G * t**2, atol=1e-10)


def test_spring_matches_closed_form():
    system = make_system("spring")
    traj = system.simulate(np.random.default_rng(5), 100)
    p, (x0, v0) = traj.params, traj.coords[0]
    w = np.sqrt(p["stiffness"] / p["mass"])
    t = np.arange(101) * system.dt
    x = p["rest_length"] + (x0 - p["rest_length"]) * np.cos(w * t) + v0 / w * np.sin(w * t)
    np.testing.assert_allclose(traj.coords[:, 0], x, atol=1e-8)


def test_orbit_conserves_linear_and_angular_momentum():
    traj = make_system("orbit").simulate(np.random.default_rng(2), 200)
    np.testing.assert_allclose(traj.momentum, np.broadcast_to(traj.momentum[0], traj.momentum.shape), atol=1e-9)


def test_circular_motion_keeps_radius_and_angular_momentum():
    traj = make_system("circular").simulate(np.random.default_rng(4), 200)
    r = np.hypot(traj.states[:, 0], traj.states[:, 1])
    np.testing.assert_allclose(r, traj.params["radius"], rtol=1e-8)
    np.testing.assert_allclose(traj.momentum[:, 2], traj.momentum[0, 2], rtol=1e-8)


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_frames_change_only_inside_object_masks(name):
    ep = generate_episode(make_system(name), 11, 40)
    obs, masks = ep.obs, ep.extras["masks"]
    moved = False
    for t in range(len(obs) - 1):
        outside = ~(masks[t] | masks[t + 1])
        assert np.array_equal(obs[t][outside], obs[t + 1][outside]), (name, t)
        moved |= not np.array_equal(obs[t], obs[t + 1])
    assert moved, f"{name}: no frame changed"
    assert masks.any(axis=(1, 2)).all(), f"{name}: an object left the frame"
    # the background is static: outside all masks every frame equals the first one
    outside_all = ~masks.any(axis=0)
    assert np.array_equal(obs[0][outside_all], obs[-1][outside_all])


def test_episode_layout_and_configurable_size():
    ep = generate_episode(make_system("pendulum"), 0, 10, 96)
    assert ep.obs.shape == (11, 96, 96, 3) and ep.obs.dtype == np.uint8
    assert ep.states.shape == (11, 6) and ep.states.dtype == np.float32
    assert ep.energies.shape == (11,) and ep.extras["momentum"].shape == (11, 3)
    assert ep.extras["masks"].shape == (11, 96, 96) and ep.extras["masks"].dtype == bool
    assert ep.actions.shape == (10, 0) and ep.rewards.shape == (10,)
    # the stored camera maps the bob's world position to its rendered blob
    x0, y0, scale, size = ep.extras["camera"]
    col = (ep.states[5, 0] - x0) * scale + size / 2
    row = size / 2 - (ep.states[5, 1] - y0) * scale
    assert ep.extras["masks"][5, int(row), int(col)]


def test_background_is_textured():
    ep = generate_episode(make_system("uniform"), 0, 2)
    background = ep.obs[0][~ep.extras["masks"][0]]
    assert len(np.unique(background, axis=0)) > 50


def test_background_is_one_still_scene_per_system():
    # a decoder that sees only the coordinates can draw a background shared by all of a system's episodes
    a, b = (generate_episode(make_system("pendulum"), seed, 3) for seed in (0, 1))
    outside = ~(a.extras["masks"].any(0) | b.extras["masks"].any(0))
    assert outside.mean() > 0.5
    for frame in (*a.obs, *b.obs):
        np.testing.assert_array_equal(frame[outside], a.obs[0][outside])
    other = generate_episode(make_system("spring"), 0, 1)
    assert np.abs(other.obs[0].astype(int) - a.obs[0].astype(int))[outside].mean() > 5
