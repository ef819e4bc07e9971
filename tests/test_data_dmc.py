"""dm-control pixel collection: shapes, dtypes, determinism, action repeat, parallel = serial, coasting, clean exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from lawm_env.data.dmc import DMC_TASKS, collect_episodes, get_task, make_pixel_env  # noqa: E402
from lawm_env.data.exploration import RandomActions, random_steps  # noqa: E402
from lawm_env.data.episode import episode_seed  # noqa: E402


def test_short_cartpole_collection_shapes_and_dtypes():
    (ep,) = collect_episodes("cartpole-swingup", [0], seed=0, steps=5)
    assert ep.obs.shape == (6, 64, 64, 3) and ep.obs.dtype == np.uint8
    assert ep.actions.shape == (5, 1) and ep.actions.dtype == np.float32
    assert np.all(np.abs(ep.actions) <= 1.0)
    assert ep.rewards.shape == (5,) and ep.rewards.dtype == np.float32
    assert ep.states.shape == (6, 5) and ep.states.dtype == np.float32
    assert ep.extras["physics_state"].shape[0] == 6
    assert ep.energies is None and not ep.terminated
    assert len({f.tobytes() for f in ep.obs}) > 1, "frames do not change"


def test_seeded_determinism():
    a, b = (list(collect_episodes("cartpole-swingup", [0, 3], seed=1, steps=4, size=32)) for _ in range(2))
    (c,) = collect_episodes("cartpole-swingup", [0], seed=2, steps=4, size=32)
    for x, y in zip(a, b):
        assert np.array_equal(x.obs, y.obs) and np.array_equal(x.states, y.states) and np.array_equal(x.actions, y.actions)
    assert not np.array_equal(a[0].states, c.states)
    assert not np.array_equal(a[0].states, a[1].states)


def test_wrapper_spaces_and_action_repeat():
    env = make_pixel_env("cartpole-swingup", size=48)
    try:
        assert env.observation_space.shape == (48, 48, 3) and env.observation_space.dtype == np.uint8
        assert env.action_space.dtype == np.float32 and env.action_space.low.min() == -1 and env.action_space.high.max() == 1
        frame, info = env.reset(seed=0)
        assert env.observation_space.contains(frame)
        physics = env.unwrapped._env.physics
        t0 = physics.data.time
        env.step(env.action_space.sample())
        assert physics.data.time - t0 == pytest.approx(get_task("cartpole-swingup").action_repeat * physics.timestep() * env.unwrapped._env._n_sub_steps)
    finally:
        env.close()


@pytest.mark.parametrize("task", ["pendulum-swingup", "reacher-easy", "cheetah-run", "walker-walk"])
def test_required_tasks_collect(task):
    (ep,) = collect_episodes(task, [0], seed=0, steps=2, size=32)
    assert ep.obs.shape == (3, 32, 32, 3) and ep.actions.shape[0] == 2 and ep.states.shape[0] == 3


def test_policy_is_called_and_clipped():
    seen = []

    def policy(frame, state):
        seen.append((frame.shape, state.shape))
        return np.array([3.0])

    (ep,) = collect_episodes("cartpole-swingup", [0], seed=0, steps=3, size=32, policy=policy)
    assert seen == [((32, 32, 3), (5,))] * 3
    assert np.all(ep.actions == 1.0)


def test_episode_ends_at_task_time_limit():
    (ep,) = collect_episodes("cartpole-swingup", [0], seed=0, steps=1000, size=16)
    assert ep.steps == DMC_TASKS["cartpole-swingup"].episode_steps == 125 and ep.truncated


def test_parallel_collection_equals_serial():
    serial = list(collect_episodes("cartpole-swingup", [0, 1, 2], seed=4, steps=6, size=32))
    parallel = list(collect_episodes("cartpole-swingup", [0, 1, 2], seed=4, steps=6, size=32, num_workers=2))
    for a, b in zip(serial, parallel, strict=True):
        assert np.array_equal(a.obs, b.obs) and np.array_equal(a.states, b.states)
        assert np.array_equal(a.actions, b.actions) and np.array_equal(a.rewards, b.rewards)


def test_random_actions_are_the_seeded_uniform_draws_and_coast_zero_draws_nothing_more():
    plain, no_coast = (next(collect_episodes("cartpole-swingup", [2], seed=5, steps=6, size=16, **kw))
                       for kw in ({}, {"random_actions": RandomActions(coast=0.0)}))
    expected = np.random.default_rng(episode_seed(5, 2)).uniform(-1.0, 1.0, size=(6, 1)).astype(np.float32)
    assert np.array_equal(plain.actions, expected) and np.array_equal(no_coast.actions, expected)


def test_coasting_episodes_take_zero_actions_after_a_random_prefix():
    steps, rng = 40, np.random.default_rng(0)
    prefixes = [random_steps(rng, steps, 1.0) for _ in range(2000)]
    assert min(prefixes) == 0 and max(prefixes) == steps // 2
    assert abs(np.mean([random_steps(rng, steps, 0.25) < steps for _ in range(4000)]) - 0.25) < 0.03
    episodes = list(collect_episodes("cartpole-swingup", range(6), seed=3, steps=steps, size=16, random_actions=RandomActions(coast=1.0)))
    for index, ep in enumerate(episodes):
        active = int(np.flatnonzero(ep.actions[:, 0])[-1]) + 1 if np.any(ep.actions) else 0
        assert active <= steps // 2 and np.all(ep.actions[active:] == 0.0) and np.all(ep.actions[:active] != 0.0)
        first = np.random.default_rng(episode_seed(3, index))
        assert active == random_steps(first, steps, 1.0)
    assert len({int(np.count_nonzero(ep.actions)) for ep in episodes}) > 1, "every episode coasted at the same step"


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_coasting_collection_in_parallel_equals_serial(beta):
    kw = dict(seed=4, steps=8, size=16, random_actions=RandomActions(coast=0.5, beta=beta))
    serial = list(collect_episodes("cartpole-swingup", [0, 1, 2], **kw))
    parallel = list(collect_episodes("cartpole-swingup", [0, 1, 2], num_workers=2, **kw))
    for a, b in zip(serial, parallel, strict=True):
        assert np.array_equal(a.actions, b.actions) and np.array_equal(a.states, b.states)


@pytest.mark.parametrize("coast", [-0.1, 1.5, float("nan")])
def test_bad_coasting_probability_is_refused(coast):

    with pytest.raises(ValueError, match="coasting probability"):
        random_steps(np.random.default_rng(0), 10, coast)
    with pytest.raises(ValueError, match="coasting probability"):
        RandomActions(coast=coast)


def test_coasting_is_part_of_a_collection_identity():
    from lawm_env.data.sources import make_source

    assert make_source("dmc:cartpole-swingup").describe()["policy"] == "uniform random"
    coasting = make_source("dmc:cartpole-swingup", random_actions=RandomActions(coast=0.25))
    assert coasting.describe()["policy"] == "uniform random, coasting with probability 0.25"
    pink = make_source("dmc:cartpole-swingup", random_actions=RandomActions(coast=0.5, beta=1.0))
    assert pink.describe()["policy"] == "colored noise (beta 1), coasting with probability 0.5"
    for actions in (RandomActions(coast=0.5), RandomActions(beta=1.0)):
        with pytest.raises(ValueError, match="synthetic episodes have no actions"):
            make_source("synthetic:pendulum", random_actions=actions)


def test_centring_pull_is_added_to_each_draw_from_the_slider_state():
    centred = RandomActions(beta=1.0, center=(1.0, 0.3))
    drawn = RandomActions(beta=1.0).sample(np.random.default_rng(7), 3, 1)
    act = centred.actions(np.random.default_rng(7), 3, 1, slider=(0, 3))
    frame = np.zeros((4, 4, 3), np.uint8)
    states = [np.array([0.5, 1, 0, -1.0, 9]), np.array([-2.0, 1, 0, 0.0, 9]), np.array([0.0, 1, 0, 0.0, 9])]
    got = np.stack([act(frame, s) for s in states])
    np.testing.assert_allclose(got, np.clip(drawn - np.array([[0.5 - 0.3], [-2.0], [0.0]]), -1, 1), rtol=1e-6)
    plain = RandomActions(beta=1.0).actions(np.random.default_rng(7), 3, 1)  # no pull: the draws, state unread
    assert np.array_equal(np.stack([plain(frame, None) for _ in range(3)]), drawn)
    with pytest.raises(ValueError, match="no slider"):
        centred.actions(np.random.default_rng(7), 3, 1, slider=None)


def test_centred_episodes_keep_the_cart_in_view_and_collect_the_same_in_parallel():
    kw = dict(seed=0, steps=60, size=16)
    free = list(collect_episodes("cartpole-swingup", range(4), random_actions=RandomActions(beta=1.0), **kw))
    centred = RandomActions(beta=1.0, center=(1.0, 0.3))
    serial = list(collect_episodes("cartpole-swingup", range(4), random_actions=centred, **kw))
    assert max(np.abs(ep.states[:, 0]).max() for ep in free) > 1.6  # past the camera's view
    assert max(np.abs(ep.states[:, 0]).max() for ep in serial) < 1.4
    for index, ep in enumerate(serial):  # each action is the episode's draw pulled by the state before it
        draws = RandomActions(beta=1.0).sample(np.random.default_rng(episode_seed(0, index)), 60, 1)
        pull = ep.states[:-1, 0:1] + 0.3 * ep.states[:-1, 3:4]
        np.testing.assert_allclose(ep.actions, np.clip(draws - pull, -1, 1), atol=1e-5)
    parallel = list(collect_episodes("cartpole-swingup", range(4), num_workers=2, random_actions=centred, **kw))
    for a, b in zip(serial, parallel, strict=True):
        assert np.array_equal(a.actions, b.actions) and np.array_equal(a.states, b.states)


@pytest.mark.parametrize("center", [(-1.0, 0.0), (1.0, float("nan")), (1.0,), (1.0, 0.3, 0.1)])
def test_bad_centring_gains_are_refused(center):
    with pytest.raises(ValueError, match="centring gains"):
        RandomActions(center=center)


def test_centring_is_part_of_a_collection_identity_and_needs_a_slider():
    from lawm_env.data.sources import make_source

    centred = RandomActions(beta=1.0, center=(1.0, 0.3))
    source = make_source("dmc:cartpole-swingup", random_actions=centred)
    assert source.describe()["policy"] == "colored noise (beta 1), pulled to the centre by -(1 x + 0.3 v)"
    assert RandomActions(center=(0, 0)) == RandomActions()  # no pull: the plain policy
    with pytest.raises(ValueError, match="no slider"):
        make_source("dmc:pendulum-swingup", random_actions=centred)
    with pytest.raises(ValueError, match="synthetic episodes have no actions"):
        make_source("synthetic:pendulum", random_actions=centred)


def test_colored_actions_are_seeded_bounded_and_hold_their_sign():
    uniform, pink = RandomActions(), RandomActions(beta=1.0)
    draw = lambda policy, seed: policy.sample(np.random.default_rng(seed), 125, 2)  # noqa: E731
    assert np.array_equal(draw(pink, 3), draw(pink, 3)) and not np.array_equal(draw(pink, 3), draw(pink, 4))
    assert np.array_equal(draw(uniform, 3), np.random.default_rng(3).uniform(-1, 1, (125, 2)).astype(np.float32))

    def lag_one(policy):  # correlation of consecutive actions, pooled over seeds and dimensions
        a = np.stack([draw(policy, s) for s in range(200)])
        return float(np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1])

    pink_actions = np.stack([draw(pink, s) for s in range(200)])
    assert pink_actions.dtype == np.float32 and pink_actions.min() >= -1.0 and pink_actions.max() <= 1.0
    assert abs(lag_one(uniform)) < 0.05 and lag_one(pink) > 0.4
    assert lag_one(RandomActions(beta=2.0)) > lag_one(pink)
    coasting = RandomActions(coast=1.0, beta=1.0).sample(np.random.default_rng(0), 40, 1)
    active = random_steps(np.random.default_rng(0), 40, 1.0)
    assert np.all(coasting[active:] == 0.0) and np.all(coasting[:active] != 0.0)


@pytest.mark.parametrize("beta", [-0.5, 4.5, float("nan"), float("inf")])
def test_bad_noise_exponent_is_refused(beta):
    with pytest.raises(ValueError, match="noise exponent beta"):
        RandomActions(beta=beta)


def test_nothing_prints_at_exit():
    script = textwrap.dedent(
        """
        from lawm_env.data.dmc import collect_episodes
        if __name__ == "__main__":
            list(collect_episodes("cartpole-swingup", [0], seed=0, steps=2, size=32))
        """
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    noise = [line for line in result.stderr.splitlines() if "Exception ignored" in line or "Error" in line or "Traceback" in line]
    assert not noise, result.stderr


def test_envs_are_closed_even_when_the_policy_fails(monkeypatch: pytest.MonkeyPatch):
    import lawm_env.data.dmc as dmc

    made = []

    def recording_make(name, size=64):
        made.append(make_pixel_env(name, size))
        return made[-1]

    def failing_policy(frame, state):
        raise RuntimeError("policy crashed")

    monkeypatch.setattr(dmc, "make_pixel_env", recording_make)
    with pytest.raises(RuntimeError, match="policy crashed"):
        list(dmc.collect_episodes("cartpole-swingup", [0], seed=0, steps=3, size=16, policy=failing_policy))
    assert len(made) == 1
    assert not hasattr(made[0].unwrapped._env.physics, "_data"), "physics and its renderer were not freed"


def test_unknown_task_lists_valid_ones():
    with pytest.raises(ValueError, match="cartpole-swingup"):
        get_task("cartpole-swing")


def test_dm_controls_own_deprecation_warnings_are_silenced_and_no_others():
    """In a fresh interpreter, as a user's run: the filter holds although importing the suite afterwards (as the
    first ``gym.make`` does) adds dm-control's own ``always`` filter for DeprecationWarnings."""
    code = """if True:
        import warnings
        from lawm_env.data.dmc import quiet_known_warnings
        quiet_known_warnings()
        import dm_control.suite
        with warnings.catch_warnings(record=True) as seen:
            warnings.warn_explicit("deprecated numpy use", DeprecationWarning, "index.py", 1, module="dm_control.mujoco.index")
            warnings.warn_explicit("deprecated elsewhere", DeprecationWarning, "other.py", 1, module="lawm_env.other")
        print([str(w.message) for w in seen])
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}).stdout
    assert out.strip() == "['deprecated elsewhere']"
