"""Episode shards (compressed ``.npz``, never pickled) and the JSON manifest describing a collection.

A shard holds consecutive episodes; its member ``meta`` records (format version, first episode, count) and
each episode ``j`` is stored as members ``"{j}.obs"``, ``"{j}.actions"``, ... and ``"{j}.x.{name}"`` for extras.
Every write goes to a temporary file in the same directory, is fsynced, then renamed over the target.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from lawm_env.data.episode import Episode
from lawm_env.fileio import atomic_write, sha256_file

FORMAT = "lawm-episodes"
VERSION = 1
MANIFEST = "manifest.json"
_FIELDS = ("obs", "actions", "rewards", "flags", "states", "energies")


class ShardError(RuntimeError):
    """A shard or manifest is missing, damaged, or does not match the collection it belongs to."""


def shard_name(index: int) -> str:
    """File name of shard ``index``."""
    return f"shard_{index:05d}.npz"


def episode_arrays(episode: Episode, j: int) -> dict[str, np.ndarray]:
    """Shard members of one episode stored at position ``j``."""
    arrays = {
        f"{j}.obs": episode.obs,
        f"{j}.actions": episode.actions,
        f"{j}.rewards": episode.rewards,
        f"{j}.flags": np.array([episode.terminated, episode.truncated]),
    }
    if episode.states is not None:
        arrays[f"{j}.states"] = episode.states
    if episode.energies is not None:
        arrays[f"{j}.energies"] = episode.energies
    for name, value in episode.extras.items():
        arrays[f"{j}.x.{name}"] = np.asarray(value)
    for key, value in arrays.items():
        if value.dtype.hasobject:
            raise ValueError(f"cannot store {key!r}: object arrays would need pickle; use numeric or bool arrays")
    return arrays


def write_shard(path: Path, episodes: Sequence[Episode], first_episode: int) -> str:
    """Atomically write ``episodes`` (numbered from ``first_episode``) as a compressed shard; return its SHA-256."""
    arrays = {"meta": np.array([VERSION, first_episode, len(episodes)], dtype=np.int64)}
    for j, episode in enumerate(episodes):
        arrays.update(episode_arrays(episode, j))
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))
    return sha256_file(path)


def _damaged(path: Path, why: object) -> ShardError:
    return ShardError(f"shard {path} is damaged or unreadable ({why}); delete it and run the collection again to regenerate it")


class ShardReader:
    """Read episodes from one shard, checking its checksum and header against the manifest entry first."""

    def __init__(self, path: Path, entry: dict[str, Any] | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise ShardError(f"shard {self.path} is missing")
        if entry is not None:
            actual = sha256_file(self.path)
            if actual != entry["sha256"]:
                raise ShardError(
                    f"shard {self.path} does not match the manifest (sha256 {actual[:12]}..., expected "
                    f"{entry['sha256'][:12]}...): it is damaged or belongs to another collection"
                )
        meta = self._load(["meta"])["meta"]
        if meta.shape != (3,) or int(meta[0]) != VERSION:
            raise ShardError(f"shard {self.path} has an unknown header {meta.tolist()} (expected version {VERSION})")
        self.first_episode, self.count = int(meta[1]), int(meta[2])
        if entry is not None and (self.first_episode, self.count) != (entry["first_episode"], entry["episodes"]):
            raise ShardError(
                f"shard {self.path} holds episodes {self.first_episode}..{self.first_episode + self.count - 1} but the "
                f"manifest expects {entry['first_episode']}..{entry['first_episode'] + entry['episodes'] - 1}"
            )

    def _load(self, keys: Iterable[str] | None = None, prefix: str | None = None) -> dict[str, np.ndarray]:
        try:
            with np.load(self.path, allow_pickle=False) as npz:
                names = list(keys) if keys is not None else [k for k in npz.files if prefix is None or k.startswith(prefix)]
                return {k: npz[k] for k in names}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise _damaged(self.path, exc) from exc

    def episode(self, j: int, fields: Sequence[str] | None = None) -> Episode:
        """Episode at position ``j``; ``fields`` restricts which stored arrays are read (others left empty)."""
        if not 0 <= j < self.count:
            raise IndexError(f"shard {self.path} holds {self.count} episodes, asked for position {j}")
        arrays = self._load(prefix=f"{j}.")
        data = {k[len(f"{j}.") :]: v for k, v in arrays.items()}
        try:
            flags = data["flags"]
            return Episode(
                obs=data["obs"],
                actions=data["actions"],
                rewards=data["rewards"],
                terminated=bool(flags[0]),
                truncated=bool(flags[1]),
                states=data.get("states"),
                energies=data.get("energies"),
                extras={k[2:]: v for k, v in data.items() if k.startswith("x.")},
            )
        except (KeyError, ValueError, IndexError) as exc:
            raise _damaged(self.path, f"episode {j}: {exc}") from exc

    def episodes(self) -> list[Episode]:
        """Every episode in the shard, in order."""
        return [self.episode(j) for j in range(self.count)]


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    """Atomically write ``manifest.json`` in ``root``."""
    text = json.dumps(manifest, indent=1, sort_keys=True).encode()
    atomic_write(Path(root) / MANIFEST, lambda f: f.write(text))


def read_manifest(root: Path) -> dict[str, Any]:
    """Read and check the manifest of the collection in ``root``."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise ShardError(f"no manifest at {path}: {root} is not a collection made by `lawm collect`")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ShardError(f"manifest {path} is damaged or unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ShardError(f"manifest {path} is not a {FORMAT} v{VERSION} manifest")
    return manifest


def load_episodes(root: Path) -> list[Episode]:
    """Every episode of a collection, in episode order (verifies each shard's checksum)."""
    root = Path(root)
    manifest = read_manifest(root)
    out: list[Episode] = []
    for entry in sorted(manifest["shards"], key=lambda e: e["index"]):
        out.extend(ShardReader(root / entry["file"], entry).episodes())
    return out
