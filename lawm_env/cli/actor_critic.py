"""Model-based RL with a Dreamer-style actor-critic on a dm-control pixel task: random seed episodes, then
repeat (train the world model, train the actor-critic in its imagination, collect episodes with the actor).
Logs real return against environment steps to <out>/returns.csv, and the return the model imagines for the
actor from each episode's first frame beside the real one to <out>/actor_critic/metrics.csv (and TensorBoard);
rerun the same command (with a larger --online.iterations to extend) to resume."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from agents import ActorCriticAgent, ActorCriticConfig
from lawm_env.model import WorldModel
from lawm_env.training.logs import MetricsLog
from lawm_env.training.online import OnlineConfig, OnlineRun, pin_options, resume_summary, run_online

AGENT_OPTIONS = "actor_critic.json"


@dataclass(frozen=True)
class Config:
    online: OnlineConfig = field(default_factory=lambda: OnlineConfig(out="runs/actor-critic"))
    """The loop, the world model ('lawm' or the 'mlp' baseline transition) and the data. The actor explores by
    sampling its own distribution: exploration_noise is not used."""
    agent: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    """The actor-critic trained in imagination."""


def run(config: Config) -> None:
    if config.online.threads > 0:
        torch.set_num_threads(config.online.threads)
    out = Path(config.online.out)
    resume_step = OnlineRun(config.online).env_steps  # also checks the loop's options against the run's
    pin_options(out / AGENT_OPTIONS, config.agent.to_dict(), "actor-critic options")
    metrics = MetricsLog(out / "actor_critic", resume_step=resume_step)
    agents: list[ActorCriticAgent] = []

    def make_agent(model: WorldModel, online: OnlineConfig) -> ActorCriticAgent:
        agents.append(ActorCriticAgent(model, config.agent, seed=online.train.seed))
        return agents[-1]

    def log(record: dict) -> None:
        line = f"episode {record['episode']:4d} ({record['kind']:6s}) env steps {record['env_steps']:7d}  return {record['return']:7.1f}"
        if agents and record["kind"] != "random":
            agent = agents[-1]
            imagined = agent.imagined_episode_return(record["steps"])
            update = agent.last_metrics
            line += (f"  imagined {imagined:7.1f}  λ-return {update.get('imagined_return', math.nan):6.2f}"
                     f"  entropy {update.get('entropy', math.nan):5.2f}  valid {update.get('valid_steps', math.nan):.2f}")
            metrics.write(record["env_steps"], {"episode": record["episode"], "eval": float(record["kind"] == "eval"),
                                                "real_return": record["return"], "imagined_return": imagined, **update})
        print(line, flush=True)

    try:
        records = run_online(config.online, make_agent, log)
    finally:
        metrics.close()
    print(resume_summary(records))
