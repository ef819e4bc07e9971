"""MPC with the true MuJoCo dynamics in a dm-control task: the return a planner reaches with a perfect model.

    python examples/planner_upper_bound.py --task cartpole-swingup --episodes 3
    python examples/planner_upper_bound.py --model default    # and how well the default LaWM ranks plans

Compare with ``lawm demo --episodes 3`` (the same planner and budget through the learned world model): the gap
between the two is the world model's, not the planner's. With ``--model``, every few steps of the episode a
world model scores candidate plans around the true-dynamics plan from the encoded real frames, and the script
reports how well its ranking agrees with the true returns (what MPC through that model depends on). Before
the episodes it runs the start check on the same seeds: from each real reset, the model's imagined returns of
probe sequences (doing nothing, pushes held, swings, random) against the true ones, and the drift of its
imagined rest from the real rest under zero actions.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from agents.imagined_return import ImaginedReturn
from lawm_env.data.dmc import get_task, make_pixel_env, run_episode
from lawm_env.data.dmc_rewards import BATCHED_REWARDS
from lawm_env.evaluation.plan_fidelity import (
    RankingReport,
    StartReport,
    candidate_plans,
    measure_start,
    probe_sequences,
)
from lawm_env.evaluation.simulator_return import SimulatorReturn
from lawm_env.model.io import load_world_model
from planners.config import PlannerConfig


class RankingProbe:
    """Every ``every`` steps, scores ``count`` candidate plans around the current plan with a world model (from
    the encoded last two real frames) and with the true simulator."""

    def __init__(self, checkpoint: str, truth: SimulatorReturn, every: int, count: int, seed: int) -> None:
        model = load_world_model(checkpoint)
        self.model, self.imagined, self.truth = model, ImaginedReturn(model), truth
        self.every, self.count, self.generator = every, count, torch.Generator().manual_seed(seed)
        self.report, self.step = RankingReport(), 0
        self.previous: tuple[torch.Tensor, torch.Tensor] | None = None

    @torch.no_grad()
    def observe(self, frame: np.ndarray, plan: torch.Tensor) -> None:
        """Called at each real ``frame`` with the plan (H, m) whose first action is executed next."""
        q = self.model.encode_frame(frame)
        q_prev, u_prev = self.previous if self.previous is not None else (q, torch.zeros(plan.shape[-1]))
        if self.step % self.every == self.every // 2:
            self.imagined.set_start(q_prev, q, u_prev)
            self.report.add(self.imagined, self.truth, candidate_plans(plan.float(), self.count, self.generator))
        self.previous, self.step = (q, plan[0].float()), self.step + 1

    def reset(self) -> None:
        self.previous, self.step = None, 0


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
    parser.add_argument("--temperature", type=float, default=PlannerConfig.temperature, help="MPPI temperature (in units of return)")
    parser.add_argument("--noise-std", type=float, default=PlannerConfig.noise_std, help="MPPI perturbation std (fraction of the half range)")
    parser.add_argument("--beta", type=float, default=PlannerConfig.beta, help="iCEM colored-noise exponent")
    parser.add_argument("--model", default="", help="'default' or a checkpoint: also measure its ranking of plans")
    parser.add_argument("--rank-every", type=int, default=4, help="agent steps between ranking measurements")
    parser.add_argument("--candidates", type=int, default=240, help="candidate plans per ranking measurement")
    parser.add_argument("--probe-random", type=int, default=200, help="random sequences among the start check's probes")
    args = parser.parse_args()

    steps = args.steps or get_task(args.task).episode_steps
    config = PlannerConfig(name=args.planner, horizon=args.horizon, population=args.population, elites=args.elites,
                           iterations=args.iterations, temperature=args.temperature, noise_std=args.noise_std,
                           beta=args.beta)
    env = make_pixel_env(args.task)
    try:
        objective = SimulatorReturn(env, args.task)
        planner = config.build(env.action_space.shape[0], seed=args.seed)
        print(f"MPC with {config.describe()} through the true simulator in {args.task}, {steps} steps per episode")
        probe = RankingProbe(args.model, objective, args.rank_every, args.candidates, args.seed) if args.model else None
        if probe is not None:
            low, high = float(env.action_space.low.min()), float(env.action_space.high.max())
            names, sequences = probe_sequences(args.horizon, env.action_space.shape[0], args.probe_random,
                                               torch.Generator().manual_seed(args.seed), low, high)
            start = StartReport(names)
            for seed in range(args.seed, args.seed + args.episodes):
                measure_start(probe.model, env, objective, seed, sequences, start)
            print(f"start check of {args.model}: {start.summary()}")

        plan_seconds: list[float] = []

        def policy(frame: np.ndarray, state: np.ndarray) -> np.ndarray:
            start = time.perf_counter()
            plan = planner.plan(objective).actions
            plan_seconds.append(time.perf_counter() - start)
            if probe is not None:
                probe.observe(frame, plan)
            return plan[0].numpy()

        mpc, random = [], []
        for seed in range(args.seed, args.seed + args.episodes):
            planner.reset(seed)
            if probe is not None:
                probe.reset()
            plan_seconds.clear()
            episode = run_episode(env, seed, steps, policy)
            ms = 1000 * float(np.mean(plan_seconds))
            mpc.append(float(episode.rewards.sum()))
            random.append(float(run_episode(env, seed, steps).rewards.sum()))
            print(f"seed {seed}: MPC {mpc[-1]:.1f}, random {random[-1]:.1f}, {ms:.0f} ms/action")
        print(f"mean: MPC {np.mean(mpc):.1f}, random {np.mean(random):.1f}")
        if probe is not None:
            print(f"ranking of candidate plans by {args.model} against the true returns, {probe.report.summary()}")
    finally:
        env.close()


if __name__ == "__main__":
    main()
