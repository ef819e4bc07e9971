"""Train a stable-baselines3 agent (PPO or SAC) inside LaWM-v0 with latent observations, then run it in the
real dm-control pixel task through the latent observation wrapper; prints imagined and real returns beside
a random policy's real return on the same seeds.

    python examples/sb3_in_lawm.py --algo ppo --timesteps 200000 --num-envs 64 --real-episodes 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm

from lawm_env.envs.real_latent import make_real_latent_env
from lawm_env.envs.sb3 import LaWMVecEnv


def make_agent(algo: str, env: LaWMVecEnv, args: argparse.Namespace) -> BaseAlgorithm:
    common = {"seed": args.seed, "device": args.device, "verbose": 0}
    if algo == "ppo":
        return PPO("MlpPolicy", env, n_steps=args.n_steps, batch_size=min(256, args.n_steps * env.num_envs), **common)
    return SAC("MlpPolicy", env, learning_starts=min(1000, args.timesteps // 2), batch_size=min(256, args.timesteps), **common)


def imagined_returns(agent: BaseAlgorithm, args: argparse.Namespace, episodes: int, seed: int) -> tuple[np.ndarray, float]:
    """Returns of the deterministic policy over ``episodes`` full imagined episodes, all stepped at once, and
    the fraction of their DEL solves that did not converge."""
    env = LaWMVecEnv(num_envs=episodes, seed=seed, checkpoint=args.checkpoint, obs_type="latent", device=args.device,
                     max_episode_steps=args.episode_steps)
    obs, totals, done = env.reset(), np.zeros(episodes), np.zeros(episodes, dtype=bool)
    steps = failed = 0
    while not done.all():
        obs, rewards, dones, infos = env.step(agent.predict(obs, deterministic=True)[0])
        totals += np.where(done, 0.0, rewards)
        steps += int((~done).sum())
        failed += sum(not info["converged"] for info, d in zip(infos, done) if not d)
        done |= dones
    env.close()
    return totals, failed / max(steps, 1)


def real_returns(policy, args: argparse.Namespace) -> np.ndarray:
    """Returns of ``policy(obs) -> action`` over real episodes of at most ``real_steps`` steps, seeds 0, 1, ..."""
    env = make_real_latent_env(args.checkpoint, device=args.device)
    totals = []
    try:
        for seed in range(args.real_episodes):
            obs, _ = env.reset(seed=seed)
            total = 0.0
            for _ in range(args.real_steps):
                obs, reward, terminated, truncated, _ = env.step(policy(obs))
                total += reward
                if terminated or truncated:
                    break
            totals.append(total)
    finally:
        env.close()
    return np.asarray(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="world model checkpoint directory (default: the embedded model)")
    parser.add_argument("--algo", choices=("ppo", "sac"), default="ppo")
    parser.add_argument("--timesteps", type=int, default=200_000, help="imagined environment steps of training")
    parser.add_argument("--num-envs", type=int, default=64, help="imagined environments stepped as one batch")
    parser.add_argument("--n-steps", type=int, default=128, help="PPO rollout length per environment")
    parser.add_argument("--episode-steps", type=int, default=None, help="imagined episode length (default: the task's)")
    parser.add_argument("--imagined-episodes", type=int, default=64)
    parser.add_argument("--real-episodes", type=int, default=5)
    parser.add_argument("--real-steps", type=int, default=1000, help="at most this many steps per real episode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--save", default=None, help="save the trained SB3 agent to this .zip")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    env = LaWMVecEnv(num_envs=args.num_envs, seed=args.seed, checkpoint=args.checkpoint, obs_type="latent",
                     device=args.device, max_episode_steps=args.episode_steps)
    agent = make_agent(args.algo, env, args)
    start = time.perf_counter()
    agent.learn(args.timesteps)
    print(f"{args.algo.upper()} trained on {args.timesteps} imagined steps ({args.num_envs} envs) in {time.perf_counter() - start:.1f} s")
    env.close()
    if args.save:
        agent.save(args.save)

    imagined, failed = imagined_returns(agent, args, args.imagined_episodes, seed=args.seed + 10_000)
    print(f"imagined return: {imagined.mean():.2f} ± {imagined.std():.2f} (median {np.median(imagined):.2f}) over "
          f"{len(imagined)} imagined episodes; {100 * failed:.1f}% of their DEL solves did not converge")
    real = real_returns(lambda obs: agent.predict(obs, deterministic=True)[0], args)
    rng = np.random.default_rng(args.seed)
    random = real_returns(lambda obs: rng.uniform(-1, 1, agent.action_space.shape).astype(np.float32), args)
    print(f"real return:     {real.mean():.2f} ± {real.std():.2f} over {len(real)} real episodes (seeds 0-{len(real) - 1})")
    print(f"random policy:   {random.mean():.2f} ± {random.std():.2f} on the same seeds")


if __name__ == "__main__":
    main()
