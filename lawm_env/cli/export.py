"""Export a trained world model for use by LaWM-v0: weights, config and provenance (no optimizer or RNG
state), the task's episode length, and initial latent pairs encoded from fresh resets of the real task."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from lawm_env.checkpoint import read_checkpoint
from lawm_env.data.dmc import get_task
from lawm_env.data.sources import dmc_task
from lawm_env.envs.initial_states import STATES_FILE, RealTaskStates, save_states
from lawm_env.model.io import export_world_model, load_world_model


@dataclass(frozen=True)
class Config:
    checkpoint: str
    """Checkpoint directory of a trained model (``<run>/checkpoint``)."""
    out: str
    """Destination directory (replaced atomically)."""
    initial_states: int = 128
    """Real-task resets to encode as stored initial states (0: none; dm-control models only)."""
    seed: int = 0
    """Seed of those resets."""


def run(config: Config) -> None:
    info = read_checkpoint(config.checkpoint)
    task = dmc_task(str(info.metadata.get("data_source", "")))
    metadata = {"exported_from": str(Path(config.checkpoint).resolve()), "training_step": info.step}
    episode_steps = None
    if task is not None:
        episode_steps = metadata["episode_steps"] = get_task(task).episode_steps
    out = export_world_model(config.checkpoint, config.out, metadata)
    if config.initial_states and task is not None:
        states = RealTaskStates(load_world_model(out), task)
        try:
            save_states(out / STATES_FILE, states.sample(config.initial_states, torch.Generator().manual_seed(config.seed)))
        finally:
            states.close()
    print(f"exported {config.checkpoint} -> {out} (episode_steps={episode_steps}, initial states={config.initial_states if task is not None else 0})")
