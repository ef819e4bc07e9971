"""The world-model training loop: seeded, resumable, logged, optionally distributed (torchrun + DDP)."""

from __future__ import annotations

import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import torch.distributed as dist
import tyro
from torch import Tensor, nn
from tqdm import tqdm

from lawm_env.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from lawm_env.data.dataset import WindowDataset
from lawm_env.data.storage import read_manifest
from lawm_env.devices import get_device
from lawm_env.errors import BadValueError, CheckpointError
from lawm_env.model import WorldModel, WorldModelConfig
from lawm_env.model.io import model_dir
from lawm_env.training.logs import MetricsLog
from lawm_env.training.losses import LossWeights, world_model_losses
from lawm_env.training.video import write_prediction_video

CHECKPOINT_DIR = "checkpoint"
MAX_SKIPPED_UPDATES = 10
"""Consecutive non-finite gradients after which training stops (single ones are skipped)."""


RUN_FORMAT = 2
"""Version of what a run records (its checkpoint's config, its pinned options); a run recorded by another
version is refused on resume with a clear message instead of being guessed at."""

@dataclass(frozen=True)
class TrainConfig:
    """What a world model is trained as and how: the model, its initialization, the losses and the optimizer. It is
    a run's identity: a resumed run must have the same."""

    model: WorldModelConfig = field(default_factory=WorldModelConfig)
    """The world model: 'lawm' (forced DEL step) or the 'mlp' baseline with a matched parameter count, its latent
    size, networks and solver (its action and frame sizes come from the data)."""
    init: str = ""
    """Start from the weights of this checkpoint or exported model ('default': the embedded one) instead of a
    random initialization, to fine-tune it on this data; its model options must be the ones asked for. The
    optimizer starts afresh at step 0. Empty: random initialization."""
    batch_size: int = 16
    """Windows per step (per process under torchrun)."""
    window: int = 16
    """Steps per training window (window + 1 frames)."""
    horizon_start: int = 2
    """Open-loop prediction horizon at step 0."""
    horizon_end: int = 12
    """Horizon reached after ``horizon_ramp_steps`` steps."""
    horizon_ramp_steps: int = 1000
    """Steps over which the horizon grows linearly (in absolute steps, so extending a run keeps its schedule)."""
    lr: float = 3e-4
    """Adam learning rate."""
    grad_clip: float = 100.0
    """Gradient norm clip."""
    weights: LossWeights = field(default_factory=LossWeights)
    """Loss weights."""
    seed: int = 0
    """Seed of model initialization and window sampling."""

    def identity(self) -> dict:
        """The options as a run records them (the model is recorded beside them, whole)."""
        identity = {k: v for k, v in asdict(self).items() if k != "model"}
        identity["init"] = str(model_dir(self.init).resolve()) if self.init else ""
        return identity


@dataclass(frozen=True)
class TrainRun:
    """Options of ``lawm train``: the data, the run directory, how long to train, and what is trained."""

    data: str
    """Collection directory written by ``lawm collect``."""
    out: str = "runs/lawm"
    """Run directory: checkpoint/, metrics.csv, tensorboard/, videos/."""
    steps: int = 2000
    """Total optimizer steps (a resumed run continues up to this number)."""
    train: Annotated[TrainConfig, tyro.conf.arg(name="")] = field(default_factory=TrainConfig)
    """What is trained and how (``--model.*``, ``--lr``, ``--weights.*``, ...)."""
    device: str = "auto"
    """'auto' (CUDA when present, else CPU), 'cpu' or 'cuda'."""
    threads: int = 0
    """CPU threads for torch (0: torch's default)."""
    log_every: int = 50
    """Steps between scalar log rows."""
    checkpoint_every: int = 500
    """Steps between checkpoints (one is always written at the end)."""
    video_every: int = 1000
    """Steps between open-loop prediction videos (0: none)."""
    cache_episodes: int = 1024
    """Episodes kept decoded in memory by the window dataset."""
    progress: bool = True
    """Show a progress bar."""


def load_initial_weights(model: WorldModel, init: str, device: torch.device) -> None:
    """Copy the weights of the model ``init`` names into ``model``; a ``BadValueError`` naming every model option in
    which the two differ (nothing is copied then)."""
    path = model_dir(init)
    saved = WorldModelConfig.from_dict(read_checkpoint(path).config["model"])
    diff = [f"{k}: {v!r} ({path}) vs {getattr(model.config, k)!r} (asked)" for k, v in asdict(saved).items() if getattr(model.config, k) != v]
    if diff:
        raise BadValueError(f"--init {init}: that model has other options than the one asked for; " + "; ".join(diff))
    load_checkpoint(path, modules={"model": model}, map_location=device)


def check_run_format(path: Path, recorded: object) -> None:
    """A CheckpointError unless the run at ``path`` was recorded in this version's ``RUN_FORMAT``."""
    if recorded != RUN_FORMAT:
        raise CheckpointError(f"{path} was recorded by another version of lawm (run format {recorded or 1}, this one "
                              f"writes {RUN_FORMAT}); resume it with that version, or start a new run with another --out")


def horizon_at(config: TrainConfig, step: int) -> int:
    """Open-loop horizon of ``step``: linear growth from horizon_start to horizon_end."""
    frac = min(1.0, step / max(1, config.horizon_ramp_steps))
    return int(round(config.horizon_start + frac * (config.horizon_end - config.horizon_start)))


class _LossModule(nn.Module):
    """Wraps the world model so that DistributedDataParallel sees the loss computation as ``forward``."""

    def __init__(self, model: WorldModel, weights: LossWeights) -> None:
        super().__init__()
        self.model, self.weights = model, weights

    def forward(self, obs: Tensor, actions: Tensor, rewards: Tensor, horizon: int) -> tuple[Tensor, dict[str, float]]:
        return world_model_losses(self.model, obs, actions, rewards, horizon, self.weights)


def sample_windows(dataset: WindowDataset, batch_size: int, generator: torch.Generator, device: torch.device) -> dict[str, Tensor]:
    """A batch of windows drawn uniformly with ``generator``: obs, actions and rewards stacked on ``device``."""
    index = torch.randint(len(dataset), (batch_size,), generator=generator)
    items = [dataset[int(i)] for i in index]
    return {key: torch.stack([item[key] for item in items]).to(device) for key in ("obs", "actions", "rewards")}


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def train(run: TrainRun) -> dict:
    """Train (or resume) a world model; returns a summary with the final metrics and timings."""
    setup = run.train
    rank, world = _distributed()
    if run.threads > 0:
        torch.set_num_threads(run.threads)
    device = get_device(run.device)
    if device.type == "cuda" and world > 1:  # one process per GPU of each node
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)) % torch.cuda.device_count())
        torch.cuda.set_device(device)
    out = Path(run.out)
    manifest = read_manifest(run.data)
    episodes = sum(len(shard["lengths"]) for shard in manifest["shards"])
    dataset = WindowDataset(run.data, window=setup.window, cache_episodes=run.cache_episodes, with_states=False)
    sample = dataset[0]
    model_config = replace(setup.model, action_dim=sample["actions"].shape[-1], image_size=sample["obs"].shape[-2])

    torch.manual_seed(setup.seed)
    np.random.seed(setup.seed)
    random.seed(setup.seed)
    model = WorldModel(model_config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=setup.lr)
    sampler = torch.Generator().manual_seed(setup.seed * 1000 + rank)
    step, elapsed = 0, 0.0
    checkpoint_config = {"run_format": RUN_FORMAT, "model": model_config.to_dict(),
                         "train": {**setup.identity(), "data": str(Path(run.data).resolve())}}
    if (out / CHECKPOINT_DIR).exists():  # resuming: the run's own weights, whatever it started from
        try:
            loaded = load_checkpoint(out / CHECKPOINT_DIR, modules={"model": model}, optimizers={"optimizer": optimizer},
                                     generators={"sampler": sampler} if world == 1 else None,
                                     restore_global_rng=True, expected_config=checkpoint_config, map_location=device)
        except CheckpointError:  # a run of another version differs everywhere: say that instead of the whole diff
            check_run_format(out / CHECKPOINT_DIR, read_checkpoint(out / CHECKPOINT_DIR).config.get("run_format"))
            raise
        step, elapsed = loaded.step, float(loaded.metadata.get("train_seconds", 0.0))
        if world > 1:  # each rank's sampler continues from a seed that depends on the step
            sampler.manual_seed(setup.seed * 1000 + rank + 7919 * step)
    elif setup.init:
        load_initial_weights(model, setup.init, device)
    loss_module: nn.Module = _LossModule(model, setup.weights)
    if world > 1:
        loss_module = nn.parallel.DistributedDataParallel(loss_module, find_unused_parameters=True)
    log = MetricsLog(out, resume_step=step) if rank == 0 else None
    video_window = dataset[0] if rank == 0 else None
    report: dict = {}
    step_times: list[float] = []
    skipped = skipped_total = 0
    bar = tqdm(total=run.steps, initial=step, disable=not run.progress or rank != 0, desc=f"train {setup.model.transition}")
    while step < run.steps:
        start = time.perf_counter()
        batch = sample_windows(dataset, setup.batch_size, sampler, device)
        horizon = horizon_at(setup, step)
        total, report = loss_module(batch["obs"], batch["actions"], batch["rewards"], horizon)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), setup.grad_clip)
        if torch.isfinite(grad_norm):
            optimizer.step()
            skipped = 0
        else:  # one bad batch must not end a long run; a persistent one must
            skipped += 1
            skipped_total += 1
            if skipped >= MAX_SKIPPED_UPDATES:
                raise FloatingPointError(f"{skipped} non-finite gradients in a row at step {step}; losses {report}")
        step += 1
        step_times.append(time.perf_counter() - start)
        elapsed += step_times[-1]
        bar.update(1)
        bar.set_postfix(loss=f"{report['total']:.4f}", H=horizon)
        if log is not None and (step % run.log_every == 0 or step == run.steps):
            log.write(step, {**report, "grad_norm": float(grad_norm), "skipped_updates": skipped_total, "step_seconds": step_times[-1]})
        if rank == 0 and run.video_every and step % run.video_every == 0:
            with torch.no_grad():
                write_prediction_video(model, video_window, out / "videos" / f"open_loop_{step:07d}.mp4", device)
        if rank == 0 and (step % run.checkpoint_every == 0 or step == run.steps):
            metadata = {"data_source": manifest.get("source"), "data_episodes": episodes, "train_seconds": elapsed,
                        "world_size": world, "metrics": report, "parameters": sum(p.numel() for p in model.parameters())}
            save_checkpoint(out / CHECKPOINT_DIR, modules={"model": model}, config=checkpoint_config, step=step,
                            optimizers={"optimizer": optimizer}, generators={"sampler": sampler}, metadata=metadata)
    bar.close()
    if log is not None:
        log.close()
    if world > 1:
        dist.barrier()
    return {"rank": rank, "world_size": world, "step": step, "train_seconds": elapsed, "metrics": report,
            "mean_step_seconds": float(np.mean(step_times)) if step_times else 0.0, "checkpoint": str(out / CHECKPOINT_DIR)}
