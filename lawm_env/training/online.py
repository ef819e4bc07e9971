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
from typing import Callable, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from lawm_env.checkpoint import load_checkpoint, save_checkpoint
from lawm_env.data.collection import append_episodes
from lawm_env.data.dataset import WindowDataset
from lawm_env.data.dmc import check_random_actions, get_task, make_pixel_env, run_episode
from lawm_env.data.episode import Episode, episode_seed
from lawm_env.data.exploration import RandomActions, check_beta, check_center, check_coast
from lawm_env.data.storage import MANIFEST, load_episodes, read_manifest
from lawm_env.fileio import atomic_write
from lawm_env.model import WorldModel
from lawm_env.model.io import load_world_model
from lawm_env.training.losses import LossWeights
from lawm_env.training.trainer import ADDED_OPTIONS, CHECKPOINT_DIR, TrainConfig, sample_windows, train


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
    seed: int = 0
    """Seed of episodes, planner noise, model initialization and window sampling."""
    seed_episodes: int = 5
    """Episodes with uniformly random actions before the first model is trained."""
    seed_coast: float = 0.0
    """Probability that a seed episode coasts: zero actions after a random number (0 to half the episode) of random
    steps (see ``lawm collect --coast``). Coasting shows the model the rest and the unforced motion."""
    seed_beta: float = 0.0
    """Noise of the seed episodes' random actions: 0 uniform draws; β > 0 colored noise falling as 1/f^β, clipped
    to [-1, 1] (see ``lawm collect --beta``; 1, pink, swings the pole much higher than uniform draws)."""
    seed_center: tuple[float, float] = (0.0, 0.0)
    """Gains (k_x, k_v) of a pull −(k_x·x + k_v·ẋ) on the task's slider added to the seed episodes' random actions,
    read from the simulator state (see ``lawm collect --center``): it keeps a cart in the camera's view. (0, 0):
    none."""
    seed_data: str = ""
    """A collection (``lawm collect``: this task, 64×64 frames, episodes of the loop's length) whose first
    ``seed_episodes`` episodes are copied in as the seed episodes instead of collecting new ones, e.g. the
    embedded default's own training data with ``init='default'``; they count as environment steps. Empty: collect."""
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
    transition: str = "lawm"
    """World-model transition: 'lawm' or 'mlp' (the baseline)."""
    lagrangian: str = "mechanical"
    """LaWM Lagrangian: 'mechanical' or 'separable'."""
    latent_dim: int = 8
    """Generalized coordinates of the world model."""
    hidden: int = 128
    """Hidden width of the Lagrangian networks and heads."""
    channels: int = 16
    """Channels of the first convolution."""
    substeps: int = 1
    """LaWM: DEL steps per agent step (see ``lawm train --substeps``)."""
    angles: int = 0
    """Angular coordinates among the first ones (see ``lawm train --angles``)."""
    init: str = ""
    """The world model starts from this checkpoint's or exported model's weights ('default': the embedded one;
    see ``lawm train --init``) instead of a random initialization. Empty: random."""
    batch_size: int = 16
    """Windows per world-model update."""
    window: int = 16
    """Steps per training window."""
    lr: float = 3e-4
    """World-model Adam learning rate."""
    horizon_start: int = 2
    """Open-loop prediction horizon of the world model's first update (it grows to 12 over 1,000 updates; a model
    started from trained weights can start at 12)."""
    weights: LossWeights = field(default_factory=LossWeights)
    """World-model loss weights (``--online.weights.foreground 20`` keeps a thin pole in the frame loss)."""
    device: str = "auto"
    """'auto', 'cpu' or 'cuda'."""
    threads: int = 0
    """CPU threads for torch (0: torch's default)."""

    def train_config(self, steps: int) -> TrainConfig:
        """The ``lawm train`` options of the world model after ``steps`` updates in total."""
        out = Path(self.out)
        return TrainConfig(data=str(out / "data"), out=str(out / "world_model"), transition=self.transition,  # type: ignore[arg-type]
                           lagrangian=self.lagrangian, latent_dim=self.latent_dim, hidden=self.hidden, channels=self.channels,  # type: ignore[arg-type]
                           substeps=self.substeps, angles=self.angles, init=self.init, steps=steps,
                           batch_size=self.batch_size, window=self.window, lr=self.lr, horizon_start=self.horizon_start,
                           weights=self.weights, seed=self.seed, device=self.device, threads=self.threads, video_every=0,
                           checkpoint_every=max(steps, 1), progress=False)


ADDED_ONLINE_OPTIONS = {"seed_coast": 0.0, "seed_beta": 0.0, "exploration_beta": 0.0, "init": "", "seed_center": [0.0, 0.0],
                        "seed_data": "", "horizon_start": 2}
"""Loop options introduced after runs were recorded, with the value those runs had."""

RECORD_FIELDS = ("episode", "iteration", "kind", "env_steps", "return", "steps", "plan_ms", "train_steps", "seconds")


def episode_steps(config: OnlineConfig) -> int:
    """Agent steps per episode: the configured number, or the task's 1000 simulator steps / action repeat."""
    return config.episode_steps or get_task(config.task).episode_steps


def pin_options(path: Path, options: dict, what: str, added: dict | None = None) -> None:
    """Record a run's ``options`` in ``path`` (JSON) the first time; later, raise a ValueError naming every
    option that differs from the recorded ones (``what`` names them in the message). ``added`` gives the
    values of options introduced after a run was recorded, read for a file that lacks them (one level deep:
    a recorded group of options lacking a newer member gets it from ``added``)."""
    options = json.loads(json.dumps(options))  # as recorded: tuples become lists
    if path.exists():
        added = added or {}
        recorded = json.loads(path.read_text())
        saved = {**added, **recorded}
        for key, value in added.items():
            if isinstance(value, dict) and isinstance(recorded.get(key), dict):
                saved[key] = {**value, **recorded[key]}
        diff = [f"{k}: {saved.get(k)!r} (run) vs {v!r} (asked)" for k, v in options.items() if saved.get(k) != v]
        if diff:
            raise ValueError(f"{path.parent} is a run with other {what}; use another --out. " + "; ".join(diff))
    else:
        text = json.dumps(options, indent=1, sort_keys=True).encode()
        atomic_write(path, lambda f: f.write(text))


class OnlineRun:
    """The state of a run directory: its episode records (online.json) and the collection they describe."""

    def __init__(self, config: OnlineConfig) -> None:
        self.config, self.root = config, Path(config.out)
        self.root.mkdir(parents=True, exist_ok=True)
        self._check_options()
        self.records: list[dict] = json.loads((self.root / "online.json").read_text())["records"] if (self.root / "online.json").exists() else []
        self._recover_records()

    def _check_options(self) -> None:
        fixed = {k: v for k, v in asdict(self.config).items() if k not in ("out", "iterations", "device", "threads", "eval_every")}
        # runs recorded before the loss weights and the added options existed trained with the defaults
        pin_options(self.root / "options.json", fixed, "options", added={"weights": asdict(LossWeights()), **ADDED_OPTIONS, **ADDED_ONLINE_OPTIONS})

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


def check_seed_data(config: OnlineConfig) -> None:
    """Raise a ValueError naming what differs if ``config.seed_data`` cannot seed this loop (task, frame size,
    episode length, too few episodes) or if options of collected seed episodes are set beside it; nothing to check
    when it is empty."""
    if not config.seed_data:
        return
    collecting = [name for name, on in (("seed_coast", config.seed_coast), ("seed_beta", config.seed_beta),
                                        ("seed_center", any(config.seed_center))) if on]
    if collecting:
        raise ValueError(f"seed_data copies its seed episodes; {', '.join(collecting)} only apply to collected ones")
    manifest = read_manifest(Path(config.seed_data))
    expected = {k: v for k, v in _identity(config).items() if k in ("source", "image_size", "steps")}  # not its seed or policy
    diff = [f"{k}: {manifest.get(k)!r} (collection) vs {v!r} (loop)" for k, v in expected.items() if manifest.get(k) != v]
    if manifest.get("episodes", 0) < config.seed_episodes:
        diff.append(f"episodes: {manifest.get('episodes', 0)} (collection) vs {config.seed_episodes} seed episodes (loop)")
    if diff:
        raise ValueError(f"seed_data {config.seed_data} does not fit this loop: " + "; ".join(diff))


def _identity(config: OnlineConfig) -> dict:
    return {"source": f"dmc:{config.task}", "image_size": 64, "seed": config.seed, "steps": episode_steps(config), "policy": "online"}


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
    seed_actions = RandomActions(check_coast(config.seed_coast, "seed_coast"), check_beta(config.seed_beta, "seed_beta"),
                                 check_center(config.seed_center, "seed_center"))
    check_random_actions(config.task, seed_actions, "seed_center")
    check_beta(config.exploration_beta, "exploration_beta")
    check_seed_data(config)
    run = OnlineRun(config)
    steps = episode_steps(config)
    env = make_pixel_env(config.task, 64)
    model: WorldModel | None = None
    agent: OnlineAgent | None = None
    try:
        if config.seed_data and run.data_episodes < config.seed_episodes:
            first = run.data_episodes
            copied = load_episodes(Path(config.seed_data))[first:config.seed_episodes]
            append_episodes(run.root / "data", copied, _identity(config))
            for index, episode in enumerate(copied, start=first):
                log(run.add("random", episode, index, float("nan"), 0, 0.0))
            run.save()
        while run.data_episodes < config.seed_episodes:
            index = run.data_episodes
            start = time.perf_counter()
            episode = run_episode(env, episode_seed(config.seed, index), steps, random_actions=seed_actions)
            append_episodes(run.root / "data", [episode], _identity(config))
            log(run.add("random", episode, index, float("nan"), 0, time.perf_counter() - start))
            run.save()
        for iteration in range((run.data_episodes - config.seed_episodes) // config.episodes_per_iteration, config.iterations):
            target = config.initial_train_steps + iteration * config.train_steps
            start = time.perf_counter()
            train(config.train_config(target))
            model = load_world_model(Path(config.out) / "world_model" / CHECKPOINT_DIR, config.device, into=model)
            if agent is None:
                agent = make_agent(model, config)
                _load_agent(run.root / "agent", agent)
            _update_agent(config, agent, model, target)
            seconds = time.perf_counter() - start
            episodes = []
            for j in range(config.episodes_per_iteration):
                index = config.seed_episodes + iteration * config.episodes_per_iteration + j
                episode, plan_ms = _run_agent_episode(env, agent, episode_seed(config.seed, index), steps, explore=True)
                episodes.append(episode)
                log(run.add("agent", episode, index, plan_ms, target, seconds))
            append_episodes(run.root / "data", episodes, _identity(config))
            run.save()
            if config.eval_every and (iteration + 1) % config.eval_every == 0:
                episode, plan_ms = _run_agent_episode(env, agent, episode_seed(config.seed + 1_000_003, iteration), steps, explore=False)
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
    dataset = WindowDataset(Path(config.out) / "data", window=config.window, with_states=False)
    generator = torch.Generator().manual_seed(config.seed * 7919 + step)
    device = next(model.parameters()).device
    for _ in range(config.train_steps):
        agent.update(model, sample_windows(dataset, config.batch_size, generator, device))
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
