"""Evaluate trained world models side by side on held-out episodes over a long open-loop horizon.

Writes ``report.md`` (metrics at several horizons, models side by side, with a "truth" column: the same
measurements on the true frames), ``plots/*.png`` (each metric against the prediction step, one line per
model) and ``results.json`` to ``--out``. Example:
``lawm eval --checkpoints runs/p-lawm/checkpoint runs/p-mlp/checkpoint --labels LaWM MLP --data data/p-heldout``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class Config:
    checkpoints: tuple[str, ...]
    """Checkpoint directories (``<run>/checkpoint``) to compare."""
    data: str
    """Held-out collection (synthetic or dm-control) from ``lawm collect``."""
    labels: tuple[str, ...] = ()
    """Column names, one per checkpoint (default: the transition, e.g. 'lawm', 'mlp')."""
    out: str = "eval"
    """Output folder for report.md, results.json and plots/."""
    horizon: int = 0
    """Open-loop steps (0: 10x the longest training horizon, capped by the held-out episodes' length)."""
    windows: int = 16
    """Held-out windows evaluated (one per episode first)."""
    batch_size: int = 8
    """Windows per batch."""
    probe_data: str | None = None
    """Collection to fit the latent-to-state probe on (default: each checkpoint's training data, if present)."""
    probe_windows: int = 64
    """Windows of 16 steps the probe is fitted on."""
    threshold: float = 0.1
    """Colour difference from the background above which a pixel belongs to the object mask."""
    device: str = "cpu"
    """'cpu', 'cuda' or 'auto'."""
    threads: int = 0
    """CPU threads for torch (0: torch's default)."""


def default_labels(checkpoints: tuple[str, ...]) -> list[str]:
    """Each checkpoint's transition ('lawm' or 'mlp'), numbered when repeated."""
    from lawm_env.checkpoint import read_checkpoint

    names = [read_checkpoint(c).config["model"]["transition"] for c in checkpoints]
    return [f"{n}-{i}" if names.count(n) > 1 else n for i, n in enumerate(names)]


def run(config: Config) -> None:
    from lawm_env.evaluation.compare import compare_checkpoints

    if config.threads > 0:
        torch.set_num_threads(config.threads)
    labels = list(config.labels) or default_labels(config.checkpoints)
    _, report = compare_checkpoints(config.checkpoints, labels, config.data, config.out, config.horizon, config.windows,
                                    config.batch_size, config.probe_data, config.probe_windows, config.device, config.threshold)
    print(Path(report).read_text())
    print(f"written to {Path(config.out).resolve()}")
