"""dm-control pixel tasks through gymnasium + shimmy: 64x64 RGB frames, action repeat, proprioceptive state.

Rendering is headless: ``MUJOCO_GL=egl`` is set when the user has not chosen a backend, before MuJoCo is
first imported by this module's functions. Every environment made here is closed explicitly.
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import gymnasium as gym
import numpy as np

from lawm_env.data.episode import Episode, episode_seed
from lawm_env.data.exploration import RandomActions
from lawm_env.errors import BadValueError

Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""A policy maps (frame (H, W, 3) uint8, state (n,) float32) to an action (m,) in [-1, 1]."""


@dataclass(frozen=True)
class DmcTask:
    """A dm-control suite task: its gymnasium id (shimmy), action repeat and the camera it is filmed from."""

    env_id: str
    action_repeat: int
    camera_id: int = 0
    slider: tuple[int, int] | None = None
    """Indices in the recorded state (``PixelTask``'s ``info["state"]``) of a slider's position and velocity
    that random episodes can pull back to the centre (``RandomActions.center``); None: the task has none."""

    @property
    def episode_steps(self) -> int:
        """Agent steps in one episode: the suite's episodes last 1,000 control steps."""
        return -(-1000 // self.action_repeat)


# Action repeats of PlaNet (Hafner et al., 2019) where it defines them. pendulum-swingup is not in PlaNet: 4 makes
# its agent step 0.08 s (control timestep 0.02 s), the same as cartpole's 8 x 0.01 s, about 18 frames per swing.
DMC_TASKS: dict[str, DmcTask] = {
    "cartpole-swingup": DmcTask("dm_control/cartpole-swingup-v0", 8, slider=(0, 3)),  # state (x, cos, sin, ẋ, θ̇)
    "cartpole-balance": DmcTask("dm_control/cartpole-balance-v0", 8, slider=(0, 3)),
    "pendulum-swingup": DmcTask("dm_control/pendulum-swingup-v0", 4),
    "reacher-easy": DmcTask("dm_control/reacher-easy-v0", 4),
    "cheetah-run": DmcTask("dm_control/cheetah-run-v0", 4),
    "walker-walk": DmcTask("dm_control/walker-walk-v0", 2),
    "finger-spin": DmcTask("dm_control/finger-spin-v0", 2),
    "ball_in_cup-catch": DmcTask("dm_control/ball_in_cup-catch-v0", 6),
}


def get_task(name: str) -> DmcTask:
    """The task registered as ``name``; an unknown name lists the valid ones."""
    try:
        return DMC_TASKS[name]
    except KeyError:
        raise BadValueError(f"unknown dm-control task {name!r}; choose one of: {', '.join(DMC_TASKS)}") from None


def check_random_actions(name: str, random_actions: RandomActions, what: str = "") -> None:
    """A ValueError naming task ``name``, after ``what`` (by default the policy's description), unless the task
    can run ``random_actions`` (a centring pull needs ``DmcTask.slider``)."""
    if get_task(name).slider is None and random_actions.centers:
        raise ValueError(f"{what or random_actions.describe()}: dm-control task {name!r} has no slider to centre")


def ensure_headless_gl() -> None:
    """Use EGL for MuJoCo rendering unless the user already chose a backend with ``MUJOCO_GL``."""
    os.environ.setdefault("MUJOCO_GL", "egl")


def to_control(action: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Actions in [-1, 1] (clipped there; any leading shape) to the control range [low, high], float64."""
    a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    return low + (a + 1.0) * 0.5 * (high - low)


class PixelTask(gym.Wrapper):
    """Pixel observations, action repeat and [-1, 1] float32 actions over a shimmy dm-control env.

    ``step`` repeats the action ``action_repeat`` times (stopping early at an episode end) and sums rewards.
    ``info["state"]`` is the flattened proprioceptive observation (float32, keys in ``state_keys`` order) and
    ``info["physics_state"]`` the full MuJoCo state (float64), both taken beside the returned frame.
    ``slider`` is the task's ``DmcTask.slider``.
    """

    def __init__(self, env: gym.Env, action_repeat: int, size: int, slider: tuple[int, int] | None = None):
        super().__init__(env)
        if action_repeat < 1:
            raise ValueError(f"action_repeat must be >= 1, got {action_repeat}")
        self.action_repeat, self.slider = action_repeat, slider
        inner = env.action_space
        if not isinstance(inner, gym.spaces.Box):
            raise TypeError(f"dm-control task must have a Box action space, got {inner}")
        self._low, self._high = inner.low.astype(np.float64), inner.high.astype(np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=inner.shape, dtype=np.float32)
        self.observation_space = gym.spaces.Box(0, 255, shape=(size, size, 3), dtype=np.uint8)
        self.state_keys = tuple(env.observation_space.spaces)
        self.state_dim = sum(int(np.prod(env.observation_space[k].shape)) for k in self.state_keys)

    def _info(self, proprio: dict[str, np.ndarray], info: dict[str, Any]) -> dict[str, Any]:
        state = np.concatenate([np.ravel(proprio[k]) for k in self.state_keys]).astype(np.float32)
        physics = self.physics.get_state().astype(np.float64)
        return {**info, "state": state, "physics_state": physics}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        proprio, info = self.env.reset(seed=seed, options=options)
        return self.env.render(), self._info(proprio, info)

    def scale_action(self, action: np.ndarray) -> np.ndarray:
        """Actions in [-1, 1] (clipped there; any leading shape) to the task's control range, float64."""
        return to_control(action, self._low, self._high)

    @property
    def physics(self):
        """The dm-control ``Physics`` of the running episode."""
        return self.env.unwrapped._env.physics

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        scaled = self.scale_action(action)
        total = 0.0
        for _ in range(self.action_repeat):
            proprio, reward, terminated, truncated, info = self.env.step(scaled)
            total += float(reward)
            if terminated or truncated:
                break
        return self.env.render(), total, bool(terminated), bool(truncated), self._info(proprio, info)


def quiet_known_warnings() -> None:
    """Silence the numpy DeprecationWarnings that dm-control's ``mujoco/index.py`` raises on every render with
    recent numpy (hundreds per episode, about dm-control's own code, nothing a user can act on).

    dm-control's ``composer.environment`` puts an ``always`` filter for every DeprecationWarning in front of the
    filter list when it is imported (by the suite, on the first ``gym.make``), which would shadow a filter set
    before it: it is imported first, so that this filter goes in front of it."""
    import dm_control.composer.environment  # noqa: F401  (its import-time filter must come before ours)

    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"dm_control\.mujoco\.index")


def make_pixel_env(name: str, size: int = 64) -> PixelTask:
    """A pixel dm-control task ``name`` (e.g. ``"cartpole-swingup"``) rendering ``size`` x ``size`` RGB frames."""
    task = get_task(name)
    ensure_headless_gl()
    quiet_known_warnings()
    import shimmy

    gym.register_envs(shimmy)
    env = gym.make(
        task.env_id,
        render_mode="rgb_array",
        render_kwargs={"width": size, "height": size, "camera_id": task.camera_id},
        disable_env_checker=True,
    )
    return PixelTask(env, task.action_repeat, size, task.slider)


def task_info(name: str, size: int = 64) -> dict[str, Any]:
    """JSON-ready description of a task's spaces and state layout (builds and closes one env)."""
    env = make_pixel_env(name, size)
    try:
        names = [
            f"{k}[{i}]" if int(np.prod(env.env.observation_space[k].shape)) > 1 else k
            for k in env.state_keys
            for i in range(max(int(np.prod(env.env.observation_space[k].shape)), 1))
        ]
        return {
            "env_id": get_task(name).env_id,
            "action_repeat": env.action_repeat,
            "camera_id": get_task(name).camera_id,
            "action_dim": int(env.action_space.shape[0]),
            "state_names": names,
            "control_timestep": float(env.unwrapped.dt) * env.action_repeat,
        }
    finally:
        env.close()


class _Recorder:
    """Accumulates one episode's frames, actions, rewards and states."""

    def __init__(self, frame: np.ndarray, info: dict[str, Any]):
        self.frames, self.states, self.physics = [frame], [info["state"]], [info["physics_state"]]
        self.actions: list[np.ndarray] = []
        self.rewards: list[float] = []
        self.terminated = self.truncated = False

    def add(self, action: np.ndarray, frame: np.ndarray, reward: float, terminated: bool, truncated: bool, info: dict[str, Any]) -> None:
        self.actions.append(action)
        self.frames.append(frame)
        self.rewards.append(reward)
        self.states.append(info["state"])
        self.physics.append(info["physics_state"])
        self.terminated, self.truncated = terminated, truncated

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated

    def episode(self, action_dim: int) -> Episode:
        actions = np.asarray(self.actions, dtype=np.float32).reshape(len(self.actions), action_dim)
        return Episode(
            obs=np.stack(self.frames).astype(np.uint8),
            actions=actions,
            rewards=np.asarray(self.rewards, dtype=np.float32),
            terminated=self.terminated,
            truncated=True if not self.terminated else self.truncated,
            states=np.stack(self.states).astype(np.float32),
            extras={"physics_state": np.stack(self.physics).astype(np.float64)},
        )


def _episode_policy(policy: Policy | None, random_actions: RandomActions, seed: int, steps: int, dim: int,
                    slider: tuple[int, int] | None) -> Policy:
    """``policy`` itself, or for ``None`` the actions ``random_actions`` draws with ``seed``, handed out in turn
    (pulled to the centre of ``slider`` when it centres)."""
    if policy is not None:
        return policy
    return random_actions.actions(np.random.default_rng(seed), steps, dim, slider)


def _act(policy: Policy, frame: np.ndarray, state: np.ndarray, dim: int) -> np.ndarray:
    action = np.asarray(policy(frame, state), dtype=np.float32).reshape(dim)
    if not np.all(np.isfinite(action)):
        raise ValueError(f"policy returned a non-finite action {action}")
    return np.clip(action, -1.0, 1.0)


def run_episode(env: PixelTask, seed: int, steps: int, policy: Policy | None = None,
                random_actions: RandomActions = RandomActions()) -> Episode:
    """Run one episode of at most ``steps`` agent steps; ``policy=None`` draws the actions from ``random_actions``
    (uniform by default) seeded by ``seed``."""
    frame, info = env.reset(seed=seed)
    rec, dim = _Recorder(frame, info), env.action_space.shape[0]
    act = _episode_policy(policy, random_actions, seed, steps, dim, env.slider)
    for _ in range(steps):
        action = _act(act, rec.frames[-1], rec.states[-1], dim)
        frame, reward, terminated, truncated, info = env.step(action)
        rec.add(action, frame, reward, terminated, truncated, info)
        if rec.done:
            break
    return rec.episode(dim)


def _row(info: dict[str, Any], key: str, i: int) -> np.ndarray:
    return np.asarray(info[key][i])


def make_vector_env(name: str, size: int, workers: int, mp_context: str = "spawn") -> gym.vector.AsyncVectorEnv:
    """``workers`` pixel envs of task ``name``, one process each (see ``collect_episodes`` about spawning)."""
    get_task(name)
    ensure_headless_gl()
    return gym.vector.AsyncVectorEnv([functools.partial(make_pixel_env, name, size)] * workers, context=mp_context, shared_memory=False)


def run_batch(venv: gym.vector.VectorEnv, seeds: Sequence[int], steps: int, policy: Policy | None = None,
              random_actions: RandomActions = RandomActions()) -> list[Episode]:
    """Run ``len(seeds)`` episodes in lockstep on a vector env with at least that many sub-envs (the same
    episodes as ``run_episode`` with each seed)."""
    n, dim = venv.num_envs, int(venv.single_action_space.shape[0])
    if not 0 < len(seeds) <= n:
        raise ValueError(f"need between 1 and {n} seeds for {n} sub-envs, got {len(seeds)}")
    all_seeds = list(seeds) + [seeds[-1]] * (n - len(seeds))  # idle sub-envs repeat the last seed; ignored
    frames, info = venv.reset(seed=all_seeds)
    recs = [_Recorder(frames[i], {"state": _row(info, "state", i), "physics_state": _row(info, "physics_state", i)}) for i in range(len(seeds))]
    slider = venv.get_attr("slider")[0]
    policies = [_episode_policy(policy, random_actions, s, steps, dim, slider) for s in seeds]
    for _ in range(steps):
        actions = np.zeros((n, dim), dtype=np.float32)
        for i, rec in enumerate(recs):
            if not rec.done:
                actions[i] = _act(policies[i], rec.frames[-1], rec.states[-1], dim)
        frames, rewards, terms, truncs, info = venv.step(actions)
        for i, rec in enumerate(recs):
            if not rec.done:
                row = {"state": _row(info, "state", i), "physics_state": _row(info, "physics_state", i)}
                rec.add(actions[i], frames[i], float(rewards[i]), bool(terms[i]), bool(truncs[i]), row)
        if all(rec.done for rec in recs):
            break
    return [rec.episode(dim) for rec in recs]


def collect_episodes(
    name: str,
    indices: Sequence[int],
    seed: int,
    steps: int,
    size: int = 64,
    num_workers: int = 1,
    policy: Policy | None = None,
    mp_context: str = "spawn",
    random_actions: RandomActions = RandomActions(),
) -> Iterator[Episode]:
    """Yield episodes ``indices`` (in order) of task ``name``; episode i is seeded with ``episode_seed(seed, i)``.
    Without a ``policy`` the actions are drawn from ``random_actions`` (uniform by default).

    With ``num_workers > 1`` the episodes run ``num_workers`` at a time in a gymnasium ``AsyncVectorEnv``
    (one process per sub-env); results are identical to one process. Workers are spawned by default: a forked
    worker inherits the parent's EGL state and can hang once the parent has rendered. As with any spawned
    multiprocessing, a script calling this must guard its entry point with ``if __name__ == "__main__":``.
    """
    if num_workers < 1:
        raise ValueError(f"num_workers must be >= 1, got {num_workers}")
    indices = list(indices)
    if not indices:
        return
    if num_workers == 1:
        env = make_pixel_env(name, size)
        try:
            for i in indices:
                yield run_episode(env, episode_seed(seed, i), steps, policy, random_actions)
        finally:
            env.close()
        return
    workers = min(num_workers, len(indices))
    venv = make_vector_env(name, size, workers, mp_context)
    try:
        for start in range(0, len(indices), workers):
            batch = indices[start : start + workers]
            yield from run_batch(venv, [episode_seed(seed, i) for i in batch], steps, policy, random_actions)
    finally:
        venv.close()
