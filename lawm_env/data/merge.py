"""Merge complete collections of one source into a new collection: to train on data drawn by several policies
(uniform and pink-noise random actions, random and MPC episodes, ...) as one ``lawm train --data``.

The merged collection numbers the episodes of each input in turn, in the order given, and records where they
came from (``merged_from``: each input's path, seed, policy and episode count). Its policy text names the
inputs' policies. The inputs must share the source, image size and every source detail except the policy.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from lawm_env.data.collection import CollectSummary, frame_count, write_shard_entry
from lawm_env.data.episode import Episode
from lawm_env.data.storage import FORMAT, MANIFEST, VERSION, ShardError, ShardReader, read_manifest, write_manifest

SHARED = ("source", "image_size")
"""Manifest entries every input must share (and every entry of ``source_info`` but the policy)."""


def _origin(root: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    return {"path": str(root.resolve()), "episodes": manifest["episodes"], "seed": manifest.get("seed"),
            "policy": manifest.get("source_info", {}).get("policy", "unknown")}


def _details(manifest: dict[str, Any]) -> dict[str, Any]:
    """What an input must share with the others: the source, image size and source details but the policy."""
    info = {k: v for k, v in manifest.get("source_info", {}).items() if k != "policy"}
    return {**{k: manifest.get(k) for k in SHARED}, "source_info": info}


def _read_inputs(inputs: Sequence[Path]) -> list[dict[str, Any]]:
    """The inputs' manifests, after checking that each is complete and that they share their source."""
    if len(inputs) < 2:
        raise ValueError(f"merging needs at least two collections, got {len(inputs)}")
    if len({p.resolve() for p in inputs}) < len(inputs):
        raise ValueError("a collection is named twice among the inputs")
    manifests = [read_manifest(p) for p in inputs]
    for root, manifest in zip(inputs, manifests):
        if not manifest.get("complete"):
            raise ShardError(f"{root} is not complete: finish it (rerun its `lawm collect`) before merging")
    first = _details(manifests[0])
    for root, manifest in zip(inputs[1:], manifests[1:]):
        details = _details(manifest)
        diff = [f"{k}: {first[k]!r} ({inputs[0]}) vs {details[k]!r} ({root})" for k in first if first[k] != details[k]]
        if diff:
            raise ShardError("collections of different sources cannot be merged: " + "; ".join(diff))
    return manifests


def _episodes(root: Path, manifest: dict[str, Any]) -> Iterator[Episode]:
    """A collection's episodes in order, one shard in memory at a time (each shard's checksum verified)."""
    for entry in sorted(manifest["shards"], key=lambda e: e["index"]):
        yield from ShardReader(root / entry["file"], entry).episodes()


def merge_collections(inputs: Sequence[str | Path], out: str | Path, episodes_per_shard: int = 16) -> CollectSummary:
    """Write the episodes of ``inputs`` (complete collections of one source), in order, as the collection ``out``.

    ``out`` gets its manifest only once every shard is written, so an interrupted merge leaves no collection
    there and is simply run again. Merging into an existing collection is refused, except the same merge
    again, which does nothing.
    """
    if episodes_per_shard < 1:
        raise ValueError(f"episodes_per_shard must be >= 1, got {episodes_per_shard}")
    roots, out = [Path(p) for p in inputs], Path(out)
    manifests = _read_inputs(roots)
    origins = [_origin(root, manifest) for root, manifest in zip(roots, manifests)]
    start = time.perf_counter()
    if (out / MANIFEST).exists():
        existing = read_manifest(out)
        if existing.get("merged_from") != origins:
            raise ShardError(f"{out} already holds a collection that is not this merge; use another --out or delete it")
        return CollectSummary(out, existing["episodes"], existing["frames"], 0, len(existing["shards"]), time.perf_counter() - start)
    out.mkdir(parents=True, exist_ok=True)
    shards: list[dict[str, Any]] = []
    batch: list[Episode] = []
    first = 0
    for root, manifest in zip(roots, manifests):
        for episode in _episodes(root, manifest):
            batch.append(episode)
            if len(batch) == episodes_per_shard:
                shards.append(write_shard_entry(out, len(shards), first, batch))
                first, batch = first + len(batch), []
    if batch:
        shards.append(write_shard_entry(out, len(shards), first, batch))
    policy = "mixed: " + "; ".join(f"{o['episodes']} episodes of {o['policy']} (seed {o['seed']})" for o in origins)
    manifest = {"format": FORMAT, "version": VERSION, **_details(manifests[0]), "seed": None,
                "steps": max(m["steps"] for m in manifests), "episodes_per_shard": episodes_per_shard,
                "merged_from": origins, "shards": shards, "episodes": first + len(batch), "complete": True}
    manifest["source_info"] = {**manifest["source_info"], "policy": policy}
    manifest["frames"] = frame_count(manifest)
    write_manifest(out, manifest)
    return CollectSummary(out, manifest["episodes"], manifest["frames"], len(shards), 0, time.perf_counter() - start)
