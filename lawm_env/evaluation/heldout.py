"""Held-out evaluation windows with everything the metrics need: frames, actions, ground-truth states,
energies, object masks and the synthetic system's parameters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lawm_env.data.storage import ShardReader, read_manifest


@dataclass(frozen=True)
class EvalWindows:
    """``count`` windows of ``length`` steps (length + 1 frames) from a collection."""

    source: str
    """The collection's source, ``synthetic:<system>`` or ``dmc:<task>``."""
    obs: Tensor
    """(count, length + 1, H, W, 3) uint8."""
    actions: Tensor
    """(count, length, m) float32."""
    states: Tensor | None
    """(count, length + 1, n) float32 ground-truth or proprioceptive state."""
    energies: Tensor | None
    """(count, length + 1) float64 true energy (synthetic)."""
    masks: Tensor | None
    """(count, length + 1, H, W) bool object masks (synthetic)."""
    params: np.ndarray | None
    """(count, p) the synthetic system's parameters."""
    scene_widths: Tensor | None = None
    """(count,) float64 width of the rendered scene in world units (synthetic: the camera's frame size / scale)."""

    @property
    def system(self) -> str | None:
        """Name of the synthetic system, None for other sources."""
        kind, _, name = self.source.partition(":")
        return name if kind == "synthetic" else None

    def __len__(self) -> int:
        return self.obs.shape[0]

    def select(self, index: slice) -> "EvalWindows":
        """The windows ``index`` (a slice)."""
        pick = lambda x: None if x is None else x[index]  # noqa: E731
        return EvalWindows(self.source, self.obs[index], self.actions[index], pick(self.states), pick(self.energies),
                           pick(self.masks), pick(self.params), pick(self.scene_widths))


def longest_episode(root: str | Path) -> int:
    """Steps of the longest episode of a collection."""
    return max(n for shard in read_manifest(Path(root))["shards"] for n in shard["lengths"])


def load_windows(root: str | Path, length: int, count: int) -> EvalWindows:
    """The first ``count`` windows of ``length`` steps: one from the start of each of the first ``count``
    episodes long enough, then further ones ``length`` steps later in each, and so on (deterministic,
    non-overlapping)."""
    root = Path(root)
    manifest = read_manifest(root)
    episodes = []
    for entry in sorted(manifest["shards"], key=lambda e: e["index"]):
        if len(episodes) >= count:  # later windows come from these episodes' later steps
            break
        if max(entry["lengths"]) >= length:
            reader = ShardReader(root / entry["file"], entry)
            episodes += [reader.episode(j) for j, n in enumerate(entry["lengths"]) if n >= length]
    if not episodes:
        raise ValueError(f"no episode of {root} has {length} steps (the longest has {longest_episode(root)})")
    starts = [(start, e) for start in range(0, max(ep.steps for ep in episodes) - length + 1, length)
              for e, ep in enumerate(episodes) if start + length <= ep.steps][:count]
    def stack(get, frames: bool = True) -> np.ndarray | None:
        values = [get(episodes[e]) for _, e in starts]
        if any(v is None for v in values):
            return None
        return np.stack([v[s : s + length + (1 if frames else 0)] for v, (s, _) in zip(values, starts)])

    as_tensor = lambda x: None if x is None else torch.from_numpy(x)  # noqa: E731
    params = [episodes[e].extras.get("params") for _, e in starts]
    cameras = [episodes[e].extras.get("camera") for _, e in starts]  # (x0, y0, scale, size)
    return EvalWindows(
        source=str(manifest.get("source", "")),
        obs=torch.from_numpy(stack(lambda ep: ep.obs)),
        actions=torch.from_numpy(stack(lambda ep: ep.actions, frames=False)),
        states=as_tensor(stack(lambda ep: ep.states)),
        energies=as_tensor(stack(lambda ep: ep.energies)),
        masks=as_tensor(stack(lambda ep: ep.extras.get("masks"))),
        params=None if any(p is None for p in params) else np.stack(params),
        scene_widths=None if any(c is None for c in cameras) else torch.tensor([c[3] / c[2] for c in cameras], dtype=torch.float64),
    )
