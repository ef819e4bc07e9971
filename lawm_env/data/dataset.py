"""A torch dataset of fixed-length windows drawn across the episodes of a collection, loaded lazily."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from lawm_env.data.storage import ShardReader, read_manifest


class WindowDataset(Dataset):
    """Windows of ``window`` steps: ``obs`` (L+1, H, W, 3) uint8, ``actions`` (L, m) float32, ``rewards`` (L,)
    float32, and ``states`` (L+1, n) float32 when the collection has states.

    Item ``k`` is a dict of tensors. Windows start every ``stride`` steps inside each episode. Episodes are read
    from their shard on first use and kept in a small LRU cache of ``cache_episodes`` episodes, so memory stays
    bounded however large the collection is; each shard's checksum is verified once per process.
    """

    def __init__(self, root: str | Path, window: int, stride: int = 1, cache_episodes: int = 16, with_states: bool = True):
        if window < 1 or stride < 1 or cache_episodes < 1:
            raise ValueError(f"window, stride and cache_episodes must be >= 1 (got {window}, {stride}, {cache_episodes})")
        self.root, self.window, self.cache_episodes = Path(root), window, cache_episodes
        self.manifest = read_manifest(self.root)
        self._entries = {e["index"]: e for e in self.manifest["shards"]}
        rows = []
        for entry in sorted(self._entries.values(), key=lambda e: e["index"]):
            for j, length in enumerate(entry["lengths"]):
                for start in range(0, length - window + 1, stride):
                    rows.append((entry["index"], j, start))
        if not rows:
            raise ValueError(f"no episode in {self.root} has {window} steps; the longest has {max((n for e in self._entries.values() for n in e['lengths']), default=0)}")
        self._index = np.asarray(rows, dtype=np.int64)
        self.with_states = with_states
        self._readers: dict[int, ShardReader] = {}
        self._cache: OrderedDict[tuple[int, int], dict[str, np.ndarray]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._index)

    def _episode(self, shard: int, j: int) -> dict[str, np.ndarray]:
        key = (shard, j)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if shard not in self._readers:
            entry = self._entries[shard]
            self._readers[shard] = ShardReader(self.root / entry["file"], entry)
        ep = self._readers[shard].episode(j)
        arrays = {"obs": ep.obs, "actions": ep.actions, "rewards": ep.rewards}
        if self.with_states and ep.states is not None:
            arrays["states"] = ep.states
        self._cache[key] = arrays
        if len(self._cache) > self.cache_episodes:
            self._cache.popitem(last=False)
        return arrays

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        shard, j, start = (int(v) for v in self._index[k])
        ep = self._episode(shard, j)
        stop = start + self.window
        item = {
            "obs": torch.from_numpy(ep["obs"][start : stop + 1].copy()),
            "actions": torch.from_numpy(ep["actions"][start:stop].copy()),
            "rewards": torch.from_numpy(ep["rewards"][start:stop].copy()),
        }
        if "states" in ep:
            item["states"] = torch.from_numpy(ep["states"][start : stop + 1].copy())
        return item

    def location(self, k: int) -> tuple[int, int]:
        """(episode number in the collection, first step) of window ``k``."""
        shard, j, start = (int(v) for v in self._index[k])
        return self._entries[shard]["first_episode"] + j, start
