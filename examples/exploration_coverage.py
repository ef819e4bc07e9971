"""Which cartpole states random data episodes visit: uniform draws against colored (1/f^β) noise, side by side.

    python examples/exploration_coverage.py --episodes 50 --betas 0 1 2

Each policy runs the same number of episodes of ``lawm_env.data.exploration.RandomActions`` in the MuJoCo
physics alone (no rendering, so it takes seconds) with the task's action repeat, and prints how often the pole
is above the horizontal and within 26° of upright (cos θ > 0.9), its angular speed (median and 90th
percentile, rad/s), and the mean return. A world model learns only the motion its data show: uniform draws
average out and rarely swing the pole up, while MPC through the model spends most of its time in fast swings
near the top.
"""

from __future__ import annotations

import argparse

import numpy as np

from lawm_env.data.dmc import get_task, to_control
from lawm_env.data.episode import episode_seed
from lawm_env.data.exploration import RandomActions


def run_states(task: str, random_actions: RandomActions, seed: int, steps: int) -> tuple[np.ndarray, np.ndarray, float]:
    """cos θ and θ̇ of the pole after every agent step of one episode, and its return."""
    from dm_control import suite

    domain, name = task.split("-", 1)
    env = suite.load(domain, name, task_kwargs={"random": seed})
    repeat = get_task(task).action_repeat
    env.reset()
    low, high = env.action_spec().minimum, env.action_spec().maximum
    actions = random_actions.sample(np.random.default_rng(seed), steps, len(low))
    cosines, speeds, total = [], [], 0.0
    for action in actions:
        for _ in range(repeat):
            step = env.step(to_control(action, low, high))
            total += float(step.reward)
        cosines.append(step.observation["position"][1])
        speeds.append(step.observation["velocity"][1])
    return np.asarray(cosines), np.abs(np.asarray(speeds)), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="cartpole-swingup", choices=["cartpole-swingup", "cartpole-balance"])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--steps", type=int, default=0, help="agent steps per episode (0: the task's episode length)")
    parser.add_argument("--betas", type=float, nargs="+", default=[0.0, 1.0, 2.0], help="0: uniform draws; β > 0: colored noise")
    parser.add_argument("--coast", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    steps = args.steps or get_task(args.task).episode_steps
    print(f"{args.task}: {args.episodes} episodes of {steps} agent steps per policy")
    print(f"{'policy':<36} {'pole up':>8} {'upright':>8} {'speed median':>13} {'speed p90':>10} {'return':>8}")
    for beta in args.betas:
        policy = RandomActions(coast=args.coast, beta=beta)
        runs = [run_states(args.task, policy, episode_seed(args.seed, i), steps) for i in range(args.episodes)]
        cosines, speeds = np.concatenate([r[0] for r in runs]), np.concatenate([r[1] for r in runs])
        print(f"{policy.describe():<36} {np.mean(cosines > 0):>8.3f} {np.mean(cosines > 0.9):>8.3f} "
              f"{np.median(speeds):>13.2f} {np.percentile(speeds, 90):>10.2f} {np.mean([r[2] for r in runs]):>8.1f}")


if __name__ == "__main__":
    main()
