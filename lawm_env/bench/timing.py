"""Wall-clock timing of callables measured side by side, synchronizing CUDA when present."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch


def time_interleaved(fns: dict[str, Callable[[], object]], device: torch.device, repeats: int = 30, warmup: int = 5) -> dict[str, float]:
    """Median wall time in seconds of each callable, timed in interleaved rounds (one call of each per round)
    so that drifts of the machine's speed affect all of them alike."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    sync()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}
