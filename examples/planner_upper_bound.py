"""MPC with the true MuJoCo dynamics in a dm-control task: the return a planner reaches with a perfect model.

    python examples/planner_upper_bound.py --task cartpole-swingup --episodes 3

Compare with ``lawm demo --episodes 3`` (the same planner and budget through the learned world model): the gap
between the two is the world model's, not the planner's.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lawm_env.data.dmc import get_task, make_pixel_env, run_episode
from lawm_env.data.dmc_rewards import BATCHED_REWARDS
from planners.config import PlannerConfig
from planners.simulator import SimulatorReturn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="cartpole-swingup", choices=sorted(BATCHED_REWARDS))
    parser.add_argument("--episodes", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="first episode seed (also seeds the planner)")
    parser.add_argument("--steps", type=int, default=0, help="agent steps per episode (0: the task's episode length)")
    parser.add_argument("--planner", default="cem", choices=["cem", "mppi", "icem"])
    parser.add_argument("--population", type=int, default=150)
    parser.add_argument("--elites", type=int, default=15)
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--horizon", type=int, default=12)
    args = parser.parse_args()

    steps = args.steps or -(-1000 // get_task(args.task).action_repeat)
    config = PlannerConfig(args.planner, args.horizon, args.population, args.elites, args.iterations)
    env = make_pixel_env(args.task)
    try:
        objective = SimulatorReturn(env, args.task)
        planner = config.build(env.action_space.shape[0], seed=args.seed)
        print(f"MPC with {config.name} (population {config.population}, horizon {config.horizon}, {config.iterations} "
              f"iterations) through the true simulator in {args.task}, {steps} steps per episode")
        mpc, random = [], []
        for seed in range(args.seed, args.seed + args.episodes):
            planner.reset(seed)
            start = time.perf_counter()
            episode = run_episode(env, seed, steps, lambda frame, state: planner.plan(objective).actions[0].numpy())
            ms = 1000 * (time.perf_counter() - start) / episode.steps
            mpc.append(float(episode.rewards.sum()))
            random.append(float(run_episode(env, seed, steps).rewards.sum()))
            print(f"seed {seed}: MPC {mpc[-1]:.1f}, random {random[-1]:.1f}, {ms:.0f} ms/action")
        print(f"mean: MPC {np.mean(mpc):.1f}, random {np.mean(random):.1f}")
    finally:
        env.close()


if __name__ == "__main__":
    main()
