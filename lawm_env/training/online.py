"""Model-based RL in the PlaNet manner: seed episodes with random actions, then repeat (train the world model,
let an agent collect episodes in the real pixel task, append them to the data), logging real return against
environment steps. Everything lives in one run directory and an interrupted run resumes where it stopped.

Run directory: ``data/`` (the growing collection), ``world_model/`` (a ``lawm train`` run directory),
``agent/`` (the agent's checkpoint, when it has parameters), ``returns.csv`` and ``online.json`` (one record
per real episode), ``videos/``.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Callable, Protocol

import numpy as np
import torch
import tyro
from torch import Tensor, nn

from lawm_env.checkpoint import load_checkpoint, save_checkpoint
from lawm_env.data.collection import append_episodes
from lawm_env.data.dataset import WindowDataset
from lawm_env.data.dmc import get_task, make_pixel_env, run_episode
from lawm_env.data.episode import Episode, episode_seed
from lawm_env.data.exploration import check_beta
from lawm_env.data.storage import MANIFEST, load_episodes, read_manifest
from lawm_env.errors import BadValueError
from lawm_env.fileio import atomic_write
from lawm_env.model import WorldModel
from lawm_env.model.io import load_world_model
from lawm_env.training.trainer import CHECKPOINT_DIR, RUN_FORMAT, TrainConfig, TrainRun, check_run_format, sample_windows, train


class OnlineAgent(Protocol):
    """What the loop needs from an agent (an MPC planner, an actor-critic, ...)."""

    def reset(self, seed: int | None = None) -> None:
        """A new real episode starts; ``seed`` makes its randomness reproducible."""

    def act(self, frame: np.ndarray, explore: bool = False) -> np.ndarray:
        """Action in [-1, 1]^m for the current uint8 frame; ``explore`` adds exploration."""

    def update(self, model: WorldModel, batch: dict[str, Tensor]) -> dict[str, float]:
        """Learn from a batch of real windows (obs, actions, rewards) with the current model; {} if nothing to learn."""


@dataclass(frozen=True)
class OnlineConfig:
    """Options of the model-based RL loop."""

    task: str = "cartpole-swingup"
    """dm-control pixel task (see lawm_env.data.dmc.DMC_TASKS)."""
    out: str = "runs/mbrl"
    """Run directory (resumed when it exists)."""
    seed_episodes: int = 5
    """Episodes with uniformly random actions before the first model is trained."""
    episode_steps: int = 0
    """Agent steps per episode (0: the task's own limit, 1000 simulator steps / action repeat)."""
    iterations: int = 100
    """Collection iterations in total (a resumed run continues up to this number)."""
    episodes_per_iteration: int = 1
    """Agent episodes collected per iteration."""
    initial_train_steps: int = 1000
    """World-model updates on the seed episodes before the first iteration."""
    train_steps: int = 100
    """World-model (and agent) updates per iteration."""
    exploration_noise: float = 0.3
    """Std of the Gaussian noise the MPC agent adds to its actions while collecting (the actor-critic samples its policy)."""
    exploration_beta: float = 0.0
    """Color of that noise over the episode: 0 white (independent at every step); β > 0 falling as 1/f^β
    (1: pink, which holds its sign for several steps)."""
    eval_every: int = 0
    """Every this many iterations, one extra episode without exploration (not added to the data; 0: never)."""
    train: Annotated[TrainConfig, tyro.conf.arg(name="")] = field(default_factory=TrainConfig)
    """The world model and its training (``--online.model.*``, ``--online.lr``, ...); its seed also seeds the
    episodes, the agents and the planners."""
    device: str = "auto"
    """'auto', 'cpu' or 'cuda'."""
    threads: int = 0
    """CPU threads for torch (0: torch's default)."""

    def train_run(self, steps: int) -> TrainRun:
        """The ``lawm train`` run of the world model after ``steps`` updates in total."""
        out = Path(self.out)
        return TrainRun(data=str(out / "data"), out=str(out / "world_model"), steps=steps, train=self.train,
                        device=self.device, threads=self.threads, video_every=0, checkpoint_every=max(steps, 1), progress=False)


RECORD_FIELDS = ("episode", "iteration", "kind", "env_steps", "return", "steps", "plan_ms", "train_steps", "seconds")


def episode_steps(config: OnlineConfig) -> int:
    """Agent steps per episode: the configured number, or the task's 1000 simulator steps / action repeat."""
    return config.episode_steps or get_task(config.task).episode_steps


def pin_options(path: Path, options: dict, what: str) -> None:
    """Record a run's ``options`` in ``path`` (JSON, with the ``RUN_FORMAT``) the first time; later, raise a
    ``BadValueError`` naming every option (dotted, for nested groups) that differs from the recorded ones (``what``
    names them in the message), or a ``CheckpointError`` for a file of another run format."""
    options = json.loads(json.dumps(options))  # as recorded: tuples become lists
    if path.exists():
        recorded = json.loads(path.read_text())
        check_run_format(path, recorded.get("run_format"))
        saved, asked = _dotted(recorded["options"]), _dotted(options)
        diff = [f"{k}: {saved.get(k)!r} (run) vs {v!r} (asked)" for k, v in asked.items() if saved.get(k) != v]
        diff += [f"{k}: {v!r} (run) vs absent (asked)" for k, v in saved.items() if k not in asked]
        if diff:
            raise BadValueError(f"{path.parent} is a run with other {what}; use another --out. " + "; ".join(diff))
    else:
        text = json.dumps({"run_format": RUN_FORMAT, "options": options}, indent=1, sort_keys=True).encode()
        atomic_write(path, lambda f: f.write(text))


def _dotted(options: dict, prefix: str = "") -> dict:
    """Nested option groups flattened to dotted names."""
    flat: dict = {}
    for key, value in options.items():
        if isinstance(value, dict):
            flat.update(_dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class OnlineRun:
    """The state of a run directory: its episode records (online.json) and the collection they describe."""

    def __init__(self, config: OnlineConfig) -> None:
        self.config, self.root = config, Path(config.out)
        self.root.mkdir(parents=True, exist_ok=True)
        self._check_options()
        self.records: list[dict] = json.loads((self.root / "online.json").read_text())["records"] if (self.root / "online.json").exists() else []
        self._recover_records()

    def _check_options(self) -> None:
        fixed = {k: v for k, v in asdict(self.config).items() if k not in ("out", "iterations", "eval_every", "device", "threads")}
        pin_options(self.root / "options.json", fixed, "options")

    def _recover_records(self) -> None:
        """Records of episodes that reached the data but not online.json (an interruption in between)."""
        if not (self.root / "data" / MANIFEST).exists():
            return
        stored = read_manifest(self.root / "data")["episodes"]
        known = self.data_episodes
        if stored > known:
            for index, episode in enumerate(load_episodes(self.root / "data")[known:], start=known):
                kind = "random" if index < self.config.seed_episodes else "agent"
                self.add(kind, episode, index, plan_ms=float("nan"), train_steps=-1, seconds=float("nan"))

    @property
    def data_episodes(self) -> int:
        return sum(r["kind"] != "eval" for r in self.records)

    @property
    def env_steps(self) -> int:
        return sum(r["steps"] for r in self.records if r["kind"] != "eval")

    def add(self, kind: str, episode: Episode, index: int, plan_ms: float, train_steps: int, seconds: float) -> dict:
        iteration = -1 if kind == "random" else (index - self.config.seed_episodes) // self.config.episodes_per_iteration
        record = {"episode": index, "iteration": iteration, "kind": kind, "env_steps": self.env_steps + (episode.steps if kind != "eval" else 0),
                  "return": float(episode.rewards.sum()), "steps": episode.steps, "plan_ms": plan_ms,
                  "train_steps": train_steps, "seconds": seconds}
        self.records.append(record)
        return record

    def save(self) -> None:
        """online.json and returns.csv, each written atomically."""
        text = json.dumps({"records": self.records}, indent=1).encode()
        atomic_write(self.root / "online.json", lambda f: f.write(text))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=RECORD_FIELDS)
        writer.writeheader()
        writer.writerows(self.records)
        data = buffer.getvalue().encode()
        atomic_write(self.root / "returns.csv", lambda f: f.write(data))


def _identity(config: OnlineConfig) -> dict:
    return {"source": f"dmc:{config.task}", "image_size": 64, "seed": config.train.seed, "steps": episode_steps(config), "policy": "online"}


def _run_agent_episode(env, agent: OnlineAgent, seed: int, steps: int, explore: bool) -> tuple[Episode, float]:
    agent.reset(seed)
    start = time.perf_counter()
    episode = run_episode(env, seed, steps, lambda frame, state: agent.act(frame, explore))
    return episode, 1000 * (time.perf_counter() - start) / max(episode.steps, 1)


def _agent_state(agent: OnlineAgent) -> tuple[dict[str, nn.Module], dict[str, torch.optim.Optimizer]]:
    modules = {"agent": agent} if isinstance(agent, nn.Module) and any(True for _ in agent.parameters()) else {}
    optimizers = agent.optimizers() if hasattr(agent, "optimizers") else {}
    return modules, optimizers


def run_online(config: OnlineConfig, make_agent: Callable[[WorldModel, OnlineConfig], OnlineAgent],
               log: Callable[[dict], None] = print) -> list[dict]:
    """Run (or resume) the loop up to ``config.iterations``; returns every episode record.

    Episode i is seeded by ``episode_seed(seed, i)`` (environment, agent and exploration), so a resumed run
    collects the same episodes as an uninterrupted one given the same model.
    """
    if (config.seed_episodes < 1 or config.iterations < 0 or config.episodes_per_iteration < 1 or config.train_steps < 1
            or config.initial_train_steps < 1):
        raise ValueError("need seed_episodes >= 1, iterations >= 0, episodes_per_iteration >= 1, train_steps >= 1, "
                         "initial_train_steps >= 1")
    check_beta(config.exploration_beta, "exploration_beta")
    run = OnlineRun(config)
    steps = episode_steps(config)
    env = make_pixel_env(config.task, 64)
    model: WorldModel | None = None
    agent: OnlineAgent | None = None
    try:
        while run.data_episodes < config.seed_episodes:
            index = run.data_episodes
            start = time.perf_counter()
            episode = run_episode(env, episode_seed(config.train.seed, index), steps)
            append_episodes(run.root / "data", [episode], _identity(config))
            log(run.add("random", episode, index, float("nan"), 0, time.perf_counter() - start))
            run.save()
        for iteration in range((run.data_episodes - config.seed_episodes) // config.episodes_per_iteration, config.iterations):
            target = config.initial_train_steps + iteration * config.train_steps
            start = time.perf_counter()
            train(config.train_run(target))
            model = load_world_model(Path(config.out) / "world_model" / CHECKPOINT_DIR, config.device, into=model)
            if agent is None:
                agent = make_agent(model, config)
                _load_agent(run.root / "agent", agent)
            _update_agent(config, agent, model, target)
            seconds = time.perf_counter() - start
            episodes = []
            for j in range(config.episodes_per_iteration):
                index = config.seed_episodes + iteration * config.episodes_per_iteration + j
                episode, plan_ms = _run_agent_episode(env, agent, episode_seed(config.train.seed, index), steps, explore=True)
                episodes.append(episode)
                log(run.add("agent", episode, index, plan_ms, target, seconds))
            append_episodes(run.root / "data", episodes, _identity(config))
            run.save()
            if config.eval_every and (iteration + 1) % config.eval_every == 0:
                episode, plan_ms = _run_agent_episode(env, agent, episode_seed(config.train.seed + 1_000_003, iteration), steps, explore=False)
                log(run.add("eval", episode, iteration, plan_ms, target, 0.0))
                run.save()
    finally:
        env.close()
    return run.records


def _update_agent(config: OnlineConfig, agent: OnlineAgent, model: WorldModel, step: int) -> None:
    """``train_steps`` agent updates on real windows, checkpointed with the agent (skipped for agents without parameters)."""
    modules, optimizers = _agent_state(agent)
    if not modules:
        return
    dataset = WindowDataset(Path(config.out) / "data", window=config.train.window, with_states=False)
    generator = torch.Generator().manual_seed(config.train.seed * 7919 + step)
    device = next(model.parameters()).device
    for _ in range(config.train_steps):
        agent.update(model, sample_windows(dataset, config.train.batch_size, generator, device))
    save_checkpoint(Path(config.out) / "agent", modules=modules, optimizers=optimizers, config={"online": asdict(config)}, step=step, save_global_rng=False)


def _load_agent(directory: Path, agent: OnlineAgent) -> None:
    modules, optimizers = _agent_state(agent)
    if modules and directory.exists():
        load_checkpoint(directory, modules=modules, optimizers=optimizers)


def resume_summary(records: list[dict]) -> str:
    """One line: episodes, environment steps and the latest returns."""
    agent = [r for r in records if r["kind"] == "agent"]
    last = ", ".join(f"{r['return']:.1f}" for r in agent[-5:])
    return f"{len(records)} episodes, {sum(r['steps'] for r in records if r['kind'] != 'eval')} env steps; last agent returns: {last or '-'}"
