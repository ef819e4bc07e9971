"""Merge complete collections of one source into a new one, to train on data drawn by several policies.

Example: ``lawm merge --inputs data/cartpole data/cartpole-pink --out data/cartpole-mixed`` (uniform and
pink-noise random episodes of cartpole-swingup, 128 episodes in all), then ``lawm train --data data/cartpole-mixed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Config:
    inputs: tuple[Path, ...]
    """Collections made by ``lawm collect`` (or a model-based RL run's ``data/``), complete and of one source;
    their episodes follow each other in this order."""
    out: Path
    """Directory of the merged collection (refused if it holds another collection)."""
    episodes_per_shard: int = 16
    """Episodes per shard file of the merged collection."""


def run(config: Config) -> None:
    """Merge and print a summary."""
    from lawm_env.data.merge import merge_collections
    from lawm_env.data.storage import ShardError
    from lawm_env.errors import UserError

    try:
        summary = merge_collections(config.inputs, config.out, config.episodes_per_shard)
    except (ValueError, ShardError) as exc:
        raise UserError(str(exc)) from None
    print(summary)
