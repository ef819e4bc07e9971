"""Train a world model (LaWM or the unconstrained baseline) on a collection made by ``lawm collect``.

Resumes from <out>/checkpoint when it exists. Under torchrun (WORLD_SIZE > 1) it trains with
DistributedDataParallel, one process per device (gloo on CPU, NCCL on CUDA).
"""

from __future__ import annotations

import json

from lawm_env.training.trainer import TrainRun, train

Config = TrainRun


def run(config: TrainRun) -> None:
    summary = train(config)
    if summary.get("rank", 0) == 0:
        print(json.dumps(summary, indent=1, default=float))
