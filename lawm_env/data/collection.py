"""Collect episodes from a source into shards, resuming an interrupted collection exactly.

Episode ``i`` depends only on (source, seed, i, steps, image size), so a resumed run regenerates exactly the
shards that are missing from the manifest: nothing is lost and nothing is duplicated.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tqdm import tqdm

from lawm_env.data.episode import Episode
from lawm_env.data.sources import Source
from lawm_env.data.storage import FORMAT, MANIFEST, VERSION, ShardError, ShardReader, read_manifest, shard_name, write_manifest, write_shard

IDENTITY = ("source", "seed", "steps", "image_size", "episodes_per_shard", "source_info")


@dataclass(frozen=True)
class CollectSummary:
    """What a collection run did."""

    out: Path
    episodes: int
    frames: int
    shards_written: int
    shards_kept: int
    seconds: float

    def __str__(self) -> str:
        rate = self.frames / self.seconds if self.seconds > 0 and self.shards_written else 0.0
        return (
            f"{self.out}: {self.episodes} episodes, {self.frames} frames in {self.shards_written + self.shards_kept} shards "
            f"({self.shards_written} written, {self.shards_kept} already present) in {self.seconds:.1f} s"
            + (f", {rate:.0f} frames/s" if rate else "")
        )


def _plan(episodes: int, per_shard: int) -> list[tuple[int, int, int]]:
    """(shard index, first episode, episode count) for every shard of the collection."""
    return [(k, k * per_shard, min(per_shard, episodes - k * per_shard)) for k in range(math.ceil(episodes / per_shard))]


def _check_identity(root: Path, old: dict[str, Any], new: dict[str, Any], episodes: int) -> None:
    diff = [f"{k}: {old.get(k)!r} (on disk) vs {new[k]!r} (asked)" for k in IDENTITY if old.get(k) != new[k]]
    if diff:
        raise ShardError(f"{root / MANIFEST} describes a different collection; use another --out or delete it. " + "; ".join(diff))
    planned = old.get("episodes", 0)
    if episodes < planned:
        raise ShardError(f"{root / MANIFEST} plans {planned} episodes; asking for fewer ({episodes}) would drop some")


def write_shard_entry(root: Path, index: int, first: int, episodes: Sequence[Episode]) -> dict[str, Any]:
    """Write shard ``index`` holding ``episodes`` (numbered from ``first``) and return its manifest entry."""
    path = root / shard_name(index)
    digest = write_shard(path, episodes, first)
    return {"index": index, "file": path.name, "first_episode": first, "episodes": len(episodes),
            "lengths": [e.steps for e in episodes], "sha256": digest}


def frame_count(manifest: dict[str, Any]) -> int:
    """Frames of the episodes a manifest's shards hold (steps + 1 each)."""
    return sum(n + 1 for e in manifest["shards"] for n in e["lengths"])


def append_episodes(root: Path, episodes: Sequence[Episode], identity: dict[str, Any]) -> int:
    """Append ``episodes`` to the growing collection in ``root`` (made on first use) as one new shard; returns
    the collection's episode count. ``identity`` (source, image_size, ...) must match the collection's.

    The shard is written before the manifest names it, so an interruption loses at most the episodes being
    appended and never damages what is there (an unnamed leftover shard is overwritten by the next append).
    """
    if not episodes:
        raise ValueError("append_episodes needs at least one episode")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if (root / MANIFEST).exists():
        manifest = read_manifest(root)
        diff = [f"{k}: {manifest.get(k)!r} (on disk) vs {v!r}" for k, v in identity.items() if manifest.get(k) != v]
        if diff:
            raise ShardError(f"{root / MANIFEST} describes a different collection: " + "; ".join(diff))
    else:
        manifest = {"format": FORMAT, "version": VERSION, **identity, "shards": [], "episodes": 0, "growing": True}
    first = int(manifest["episodes"])
    index = max((e["index"] for e in manifest["shards"]), default=-1) + 1
    manifest["shards"].append(write_shard_entry(root, index, first, episodes))
    manifest.update(episodes=first + len(episodes), complete=True, frames=frame_count(manifest))
    write_manifest(root, manifest)
    return manifest["episodes"]


def collect(source: Source, out: Path, episodes: int, steps: int, seed: int, episodes_per_shard: int = 16, progress: bool = True) -> CollectSummary:
    """Collect ``episodes`` episodes of ``steps`` steps from ``source`` into ``out``, resuming what is there."""
    if episodes < 1 or steps < 1 or episodes_per_shard < 1 or seed < 0:
        raise ValueError(f"episodes, steps and episodes_per_shard must be >= 1 and seed >= 0 (got {episodes}, {steps}, {episodes_per_shard}, {seed})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    identity = {
        "source": source.name,
        "seed": seed,
        "steps": steps,
        "image_size": source.image_size,
        "episodes_per_shard": episodes_per_shard,
        "source_info": source.describe(),
    }
    if (out / MANIFEST).exists():
        manifest = read_manifest(out)
        _check_identity(out, manifest, identity, episodes)
    else:
        manifest = {"format": FORMAT, "version": VERSION, **identity, "shards": []}
    plan = _plan(episodes, episodes_per_shard)
    done: dict[int, dict[str, Any]] = {}
    for entry in manifest["shards"]:
        k = entry["index"]
        if k < len(plan) and entry["episodes"] == plan[k][2] and (out / entry["file"]).exists():
            ShardReader(out / entry["file"], entry)  # raises, naming the file, if it is damaged
            done[k] = entry
    manifest.update(episodes=episodes, complete=False)
    manifest["shards"] = sorted(done.values(), key=lambda e: e["index"])
    write_manifest(out, manifest)
    start, written = time.perf_counter(), 0
    bar = tqdm(total=episodes, initial=sum(e["episodes"] for e in done.values()), unit="ep", disable=not progress, desc=source.name)
    try:
        for k, first, count in plan:
            if k in done:
                continue
            batch = []
            for episode in source.generate(range(first, first + count), seed, steps):
                batch.append(episode)
                bar.update(1)
            done[k] = write_shard_entry(out, k, first, batch)
            manifest["shards"] = sorted(done.values(), key=lambda e: e["index"])
            write_manifest(out, manifest)
            written += 1
    finally:
        bar.close()
    manifest["complete"] = True
    manifest["frames"] = frame_count(manifest)
    write_manifest(out, manifest)
    return CollectSummary(out, episodes, manifest["frames"], written, len(plan) - written, time.perf_counter() - start)
