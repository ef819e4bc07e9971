"""Which cartpole states random data episodes visit: uniform draws against colored (1/f^β) noise, side by side.

    python examples/exploration_coverage.py --episodes 50 --betas 0 1 2
    python examples/exploration_coverage.py --episodes 50 --betas 0 1 --center 1 0.3

Each policy runs the same number of episodes of ``lawm_env.data.exploration.RandomActions`` in the MuJoCo
physics alone (no rendering, so it takes seconds) with the task's action repeat, and prints how often the cart
is in the camera's view (within 1.5 of the centre; camera 0 loses it past about 1.6), how often the pole is
above the horizontal and within 26° of upright (cos θ > 0.9), its angular speed (median and 90th percentile,
rad/s), and the mean return. ``--center K_X K_V`` adds the centring pull of ``RandomActions.center``. A world
model learns only the motion its data show: uniform draws average out and rarely swing the pole up, while MPC
through the model spends most of its time in fast swings near the top, and a cart at the end of its rail is
out of the camera's view.
"""

from __future__ import annotations

import argparse

import numpy as np

from lawm_env.data.dmc import get_task, to_control
from lawm_env.data.episode import episode_seed
from lawm_env.data.exploration import RandomActions


def run_states(task: str, random_actions: RandomActions, seed: int, steps: int) -> tuple[np.ndarray, float]:
    """The state (x, cos θ, sin θ, ẋ, θ̇) after every agent step of one episode, and its return."""
    from dm_control import suite

    domain, name = task.split("-", 1)
    env = suite.load(domain, name, task_kwargs={"random": seed})
    spec = get_task(task)
    step = env.reset()
    low, high = env.action_spec().minimum, env.action_spec().maximum
    act = random_actions.actions(np.random.default_rng(seed), steps, len(low), spec.slider)
    states, total = [], 0.0
    state = np.concatenate([step.observation["position"], step.observation["velocity"]])
    for _ in range(steps):
        action = act(None, state)
        for _ in range(spec.action_repeat):
            step = env.step(to_control(action, low, high))
            total += float(step.reward)
        state = np.concatenate([step.observation["position"], step.observation["velocity"]])
        states.append(state)
    return np.asarray(states), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="cartpole-swingup", choices=["cartpole-swingup", "cartpole-balance"])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--steps", type=int, default=0, help="agent steps per episode (0: the task's episode length)")
    parser.add_argument("--betas", type=float, nargs="+", default=[0.0, 1.0, 2.0], help="0: uniform draws; β > 0: colored noise")
    parser.add_argument("--coast", type=float, default=0.0)
    parser.add_argument("--center", type=float, nargs=2, default=[0.0, 0.0], metavar=("K_X", "K_V"),
                        help="centring pull -(K_X x + K_V v) on the cart (0 0: none)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    steps = args.steps or get_task(args.task).episode_steps
    print(f"{args.task}: {args.episodes} episodes of {steps} agent steps per policy")
    print(f"{'policy':<64} {'in view':>8} {'pole up':>8} {'upright':>8} {'speed median':>13} {'speed p90':>10} {'return':>8}")
    for beta in args.betas:
        policy = RandomActions(coast=args.coast, beta=beta, center=tuple(args.center))
        runs = [run_states(args.task, policy, episode_seed(args.seed, i), steps) for i in range(args.episodes)]
        states = np.concatenate([r[0] for r in runs])
        cosines, speeds = states[:, 1], np.abs(states[:, 4])
        print(f"{policy.describe():<64} {np.mean(np.abs(states[:, 0]) < 1.5):>8.3f} {np.mean(cosines > 0):>8.3f} "
              f"{np.mean(cosines > 0.9):>8.3f} {np.median(speeds):>13.2f} {np.percentile(speeds, 90):>10.2f} "
              f"{np.mean([r[1] for r in runs]):>8.1f}")


if __name__ == "__main__":
    main()
