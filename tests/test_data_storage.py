"""Shards, manifest, resumable collection and the window dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pytest
import torch

from lawm_env.data.collection import collect
from lawm_env.data.dataset import WindowDataset
from lawm_env.data.episode import Episode
from lawm_env.data.sources import SyntheticSource, make_source
from lawm_env.data.storage import MANIFEST, atomic_write, ShardError, ShardReader, load_episodes, read_manifest, write_shard


def _episode(rng: np.random.Generator, steps: int = 6) -> Episode:
    return Episode(
        obs=rng.integers(0, 256, size=(steps + 1, 8, 8, 3), dtype=np.uint8),
        actions=rng.uniform(-1, 1, size=(steps, 2)).astype(np.float32),
        rewards=rng.normal(size=steps).astype(np.float32),
        terminated=True,
        truncated=False,
        states=rng.normal(size=(steps + 1, 4)).astype(np.float32),
        energies=rng.normal(size=steps + 1),
        extras={"masks": rng.random((steps + 1, 8, 8)) < 0.5, "params": np.array([1.5, 2.5])},
    )


def _assert_same(a: Episode, b: Episode) -> None:
    for field in ("obs", "actions", "rewards", "states", "energies"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and np.array_equal(x, y), field
    assert (a.terminated, a.truncated) == (b.terminated, b.truncated)
    assert a.extras.keys() == b.extras.keys()
    for k in a.extras:
        assert a.extras[k].dtype == b.extras[k].dtype and np.array_equal(a.extras[k], b.extras[k]), k


def test_shard_round_trip(tmp_path: Path):
    rng = np.random.default_rng(0)
    episodes = [_episode(rng), _episode(rng, steps=3)]
    write_shard(tmp_path / "s.npz", episodes, first_episode=4)
    reader = ShardReader(tmp_path / "s.npz")
    assert (reader.first_episode, reader.count) == (4, 2)
    for a, b in zip(episodes, reader.episodes()):
        _assert_same(a, b)
    assert not list(tmp_path.glob(".*tmp")), "temporary files left behind"


def test_episode_rejects_bad_fields():
    rng = np.random.default_rng(0)
    ep = _episode(rng)
    with pytest.raises(ValueError, match="obs"):
        Episode(ep.obs.astype(np.float32), ep.actions, ep.rewards, False, True)
    with pytest.raises(ValueError, match="rewards"):
        Episode(ep.obs, ep.actions, ep.rewards[:-1], False, True)
    with pytest.raises(ValueError, match="actions"):
        Episode(ep.obs, ep.actions.astype(np.float64), ep.rewards, False, True)


def test_failed_write_leaves_no_file(tmp_path: Path):
    bad = _episode(np.random.default_rng(0))
    bad.extras["params"] = np.array([object()], dtype=object)  # not storable without pickle
    with pytest.raises(ValueError, match="pickle"):
        write_shard(tmp_path / "s.npz", [bad], 0)

    def crash(f):
        f.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(tmp_path / "t.npz", crash)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_gives_the_permissions_of_open(tmp_path: Path):
    (tmp_path / "plain").write_bytes(b"x")
    atomic_write(tmp_path / "atomic", lambda f: f.write(b"x"))
    assert (tmp_path / "atomic").stat().st_mode == (tmp_path / "plain").stat().st_mode  # not a temp file's 0o600
    (tmp_path / "atomic").chmod(0o640)
    atomic_write(tmp_path / "atomic", lambda f: f.write(b"y"))
    assert (tmp_path / "atomic").stat().st_mode & 0o777 == 0o640 and (tmp_path / "atomic").read_bytes() == b"y"


def _collect(out: Path, episodes: int = 7, source: object | None = None) -> None:
    collect(source or SyntheticSource("pendulum", 32), out, episodes, steps=12, seed=5, episodes_per_shard=3, progress=False)


class _Interrupted(Exception):
    pass


class _FailingSource(SyntheticSource):
    """Stops the collection after ``budget`` episodes, as a crash or Ctrl-C would."""

    def __init__(self, budget: int):
        super().__init__("pendulum", 32)
        self.budget = budget
        self.generated: list[int] = []

    def generate(self, indices: Sequence[int], seed: int, steps: int) -> Iterator[Episode]:
        for i, episode in zip(indices, super().generate(indices, seed, steps)):
            if self.budget == 0:
                raise _Interrupted
            self.budget -= 1
            self.generated.append(i)
            yield episode


def test_interrupted_collection_resumes_exactly(tmp_path: Path):
    _collect(tmp_path / "full")
    with pytest.raises(_Interrupted):
        _collect(tmp_path / "part", source=_FailingSource(budget=4))  # shard 0 written, shard 1 half done
    manifest = read_manifest(tmp_path / "part")
    assert [e["index"] for e in manifest["shards"]] == [0] and not manifest["complete"]
    resumed = _FailingSource(budget=100)
    _collect(tmp_path / "part", source=resumed)
    assert resumed.generated == [3, 4, 5, 6]  # only the missing episodes are regenerated
    full, part = load_episodes(tmp_path / "full"), load_episodes(tmp_path / "part")
    assert len(full) == len(part) == 7
    for a, b in zip(full, part):
        _assert_same(a, b)
    assert read_manifest(tmp_path / "part")["complete"]


def test_collection_can_grow(tmp_path: Path):
    _collect(tmp_path / "a", episodes=4)
    _collect(tmp_path / "a", episodes=7)
    _collect(tmp_path / "b", episodes=7)
    for x, y in zip(load_episodes(tmp_path / "a"), load_episodes(tmp_path / "b")):
        _assert_same(x, y)


def test_mismatched_collection_is_refused(tmp_path: Path):
    _collect(tmp_path)
    with pytest.raises(ShardError, match="steps: 12.*13"):
        collect(SyntheticSource("pendulum", 32), tmp_path, 7, steps=13, seed=5, episodes_per_shard=3, progress=False)
    with pytest.raises(ShardError, match="source"):
        collect(SyntheticSource("orbit", 32), tmp_path, 7, steps=12, seed=5, episodes_per_shard=3, progress=False)


@pytest.mark.parametrize("damage", ["flip", "truncate", "swap"])
def test_damaged_shard_raises_error_naming_it(tmp_path: Path, damage: str):
    _collect(tmp_path)
    target = tmp_path / "shard_00001.npz"
    data = bytearray(target.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(bytes(data[: len(data) // 2]))
    else:
        target.write_bytes((tmp_path / "shard_00000.npz").read_bytes())
    with pytest.raises(ShardError, match="shard_00001.npz"):
        load_episodes(tmp_path)
    with pytest.raises(ShardError, match="shard_00001.npz"):
        _collect(tmp_path)  # resuming refuses to build on a damaged shard
    with pytest.raises(ShardError, match="shard_00001.npz"):
        ds = WindowDataset(tmp_path, window=4)
        for k in range(len(ds)):
            ds[k]


def test_unreadable_shard_without_manifest_names_it(tmp_path: Path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ShardError, match="junk.npz"):
        ShardReader(tmp_path / "junk.npz")


def test_damaged_manifest_names_it(tmp_path: Path):
    _collect(tmp_path)
    (tmp_path / MANIFEST).write_text("{ broken")
    with pytest.raises(ShardError, match=MANIFEST):
        load_episodes(tmp_path)


def test_manifest_describes_collection(tmp_path: Path):
    _collect(tmp_path)
    m = json.loads((tmp_path / MANIFEST).read_text())
    assert m["source"] == "synthetic:pendulum" and m["episodes"] == 7 and m["complete"]
    assert [e["episodes"] for e in m["shards"]] == [3, 3, 1]
    assert m["frames"] == 7 * 13
    assert m["source_info"]["observation"] == {"shape": [32, 32, 3], "dtype": "uint8"}
    assert all(len(e["sha256"]) == 64 for e in m["shards"])


def test_window_dataset_matches_episodes_and_bounds_memory(tmp_path: Path):
    _collect(tmp_path)
    episodes = load_episodes(tmp_path)
    ds = WindowDataset(tmp_path, window=5, stride=2, cache_episodes=2)
    assert len(ds) == 7 * len(range(0, 12 - 5 + 1, 2))
    for k in range(len(ds)):
        item = ds[k]
        i, start = ds.location(k)
        ep = episodes[i]
        assert item["obs"].shape == (6, 32, 32, 3) and item["obs"].dtype == torch.uint8
        assert item["actions"].shape == (5, 0) and item["rewards"].shape == (5,)
        assert torch.equal(item["obs"], torch.from_numpy(ep.obs[start : start + 6]))
        assert torch.equal(item["states"], torch.from_numpy(ep.states[start : start + 6]))
        assert len(ds._cache) <= 2
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True)))
    assert batch["obs"].shape == (4, 6, 32, 32, 3)


def test_window_longer_than_episodes_is_an_error(tmp_path: Path):
    _collect(tmp_path)
    with pytest.raises(ValueError, match="12"):
        WindowDataset(tmp_path, window=13)


def test_bad_source_lists_valid_ones():
    with pytest.raises(ValueError, match="synthetic:pendulum.*dmc:cartpole-swingup"):
        make_source("pendulum")
    with pytest.raises(ValueError, match="cartpole-swingup"):
        make_source("dmc:cartpole")
