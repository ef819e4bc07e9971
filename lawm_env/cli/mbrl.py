"""Model-based RL in the PlaNet manner on a dm-control pixel task: random seed episodes, then repeat (train the
world model, collect episodes with MPC plus exploration noise). Logs real return against environment steps to
<out>/returns.csv; rerun the same command (with a larger --iterations to extend) to resume."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from lawm_env.training.online import OnlineConfig, resume_summary, run_online
from planners.config import PlannerConfig


@dataclass(frozen=True)
class Config:
    online: OnlineConfig = field(default_factory=OnlineConfig)
    """The loop, the world model and the data."""
    planner: PlannerConfig = field(default_factory=lambda: PlannerConfig.closed_loop("cem"))
    """The MPC planner used to collect episodes."""


def make_mpc_agent(planner: PlannerConfig):
    """An agent factory for ``run_online``: MPC through the current model."""
    from agents.mpc import MPCAgent

    def make(model, online: OnlineConfig) -> MPCAgent:
        device = next(model.parameters()).device
        return MPCAgent(model, planner.build(model.config.action_dim, seed=online.train.seed, device=device),
                        exploration_noise=online.exploration_noise, seed=online.train.seed,
                        exploration_beta=online.exploration_beta)

    return make


def run(config: Config) -> None:
    if config.online.threads > 0:
        torch.set_num_threads(config.online.threads)

    def log(record: dict) -> None:
        print(f"episode {record['episode']:4d} ({record['kind']:6s}) env steps {record['env_steps']:7d}  return {record['return']:7.1f}"
              + (f"  plan {record['plan_ms']:.0f} ms/action" if record["kind"] != "random" else ""), flush=True)

    records = run_online(config.online, make_mpc_agent(config.planner), log)
    print(resume_summary(records))
