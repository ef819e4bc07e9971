"""Trained world models side by side on the same held-out windows: horizons, state probes, the report."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from lawm_env.checkpoint import read_checkpoint
from lawm_env.data.dataset import WindowDataset
from lawm_env.data.storage import read_manifest
from lawm_env.evaluation.evaluate import Evaluation, evaluate_model, window_steps
from lawm_env.evaluation.heldout import load_windows, longest_episode
from lawm_env.evaluation.probe import LinearProbe, fit_probe, probe_features
from lawm_env.evaluation.report import default_horizons, write_report
from lawm_env.model import WorldModel
from lawm_env.model.io import load_world_model
from lawm_env.training.trainer import TrainConfig

HORIZON_FACTOR = 10
"""Default evaluation horizon in units of the training horizon."""


def training_horizon(checkpoint: str | Path) -> int:
    """The open-loop horizon a checkpoint was trained up to (the trainer's default when it does not say)."""
    train = read_checkpoint(checkpoint).config.get("train", {})
    return int(train.get("horizon_end", TrainConfig.horizon_end))


def training_data(checkpoint: str | Path) -> str | None:
    """The collection a checkpoint was trained on, if it still exists."""
    data = read_checkpoint(checkpoint).config.get("train", {}).get("data")
    return data if data and Path(data).is_dir() else None


def resolve_horizon(requested: int, checkpoints: Sequence[str | Path], data: str | Path) -> int:
    """``requested`` or, when 0, ``HORIZON_FACTOR`` times the longest training horizon; capped (with a
    warning) so that a window of ``window_steps(horizon)`` steps fits in the collection's longest episode."""
    horizon = requested or HORIZON_FACTOR * max(training_horizon(c) for c in checkpoints)
    available = longest_episode(data) - window_steps(0)
    if horizon > available:
        print(f"warning: horizon {horizon} needs episodes of {window_steps(horizon)} steps; {data} has at most {longest_episode(data)}: "
              f"evaluating {available} steps (collect longer held-out episodes for the full horizon)")
        horizon = available
    return horizon


@torch.no_grad()
def fit_state_probe(model: WorldModel, data: str | Path, windows: int = 64, length: int = 16,
                    batch_size: int = 16) -> tuple[LinearProbe, Tensor] | None:
    """A linear probe from the model's encoded latents to the collection's states, fitted on ``windows``
    windows of ``data`` (evenly spread), and the states' standard deviation; None without states."""
    dataset = WindowDataset(data, window=length)
    index = torch.linspace(0, len(dataset) - 1, min(windows, len(dataset))).long().unique()
    if "states" not in dataset[0] or dataset[0]["states"].shape[-1] == 0:
        return None
    device = next(model.parameters()).device
    features, targets = [], []
    for chunk in index.split(batch_size):
        items = [dataset[int(i)] for i in chunk]
        q = model.encode(torch.stack([it["obs"] for it in items]).to(device)).cpu()
        features.append(probe_features(q, model.config.angles).flatten(0, 1))
        targets.append(torch.stack([it["states"] for it in items])[:, 1:].flatten(0, 1))
    x, y = torch.cat(features), torch.cat(targets)
    return fit_probe(x, y), y.std(0)


def compare_checkpoints(checkpoints: Sequence[str | Path], labels: Sequence[str], data: str | Path, out: str | Path,
                        horizon: int = 0, windows: int = 16, batch_size: int = 8, probe_data: str | Path | None = None,
                        probe_windows: int = 64, device: str = "cpu", threshold: float = 0.1,
                        include_truth: bool = True) -> tuple[list[Evaluation], Path]:
    """Evaluate each checkpoint on the same held-out windows of ``data``; write the report to ``out``."""
    if len(labels) != len(checkpoints):
        raise ValueError(f"{len(checkpoints)} checkpoints but {len(labels)} labels")
    horizon = resolve_horizon(horizon, checkpoints, data)
    held_out = load_windows(data, window_steps(horizon), windows)
    results = []
    for checkpoint, label in zip(checkpoints, labels):
        model = load_world_model(checkpoint, device)
        source = probe_data or training_data(checkpoint)
        if source and read_manifest(Path(source)).get("source") != held_out.source:
            print(f"note: no state probe for {label}: {source} is not a collection of {held_out.source}")
            source = None
        fitted = fit_state_probe(model, source, probe_windows) if source and held_out.states is not None else None
        probe, scale = fitted if fitted else (None, None)
        results.append(evaluate_model(model, held_out, horizon, label, batch_size, probe, scale, threshold))
    if include_truth:
        results.append(evaluate_model(None, held_out, horizon, "truth", batch_size, threshold=threshold))
    meta = {"data": str(data), "source": held_out.source, "windows": len(held_out), "horizon": horizon,
            "models": {label: str(c) for label, c in zip(labels, checkpoints)},
            "training_horizons": {label: training_horizon(c) for label, c in zip(labels, checkpoints)}}
    return results, write_report(results, out, default_horizons(horizon), meta)
