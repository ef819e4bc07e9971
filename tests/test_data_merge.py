"""``lawm merge``: complete collections of one source become one collection, in order, with their origins."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lawm_env.cli import main
from lawm_env.data.dataset import WindowDataset
from lawm_env.data.merge import merge_collections
from lawm_env.data.storage import MANIFEST, ShardError, load_episodes, read_manifest


def _collect(root: Path, source: str = "synthetic:spring", episodes: int = 3, steps: int = 8, seed: int = 0) -> Path:
    main(["collect", "--source", source, "--episodes", str(episodes), "--steps", str(steps), "--out", str(root),
          "--seed", str(seed), "--episodes-per-shard", "2", "--image-size", "16", "--no-progress"])
    return root


@pytest.fixture()
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return _collect(tmp_path / "a", seed=0), _collect(tmp_path / "b", episodes=4, steps=5, seed=1)


def test_merge_keeps_every_episode_in_order_and_records_the_origins(pair, tmp_path: Path, capsys):
    a, b = pair
    main(["merge", "--inputs", str(a), str(b), "--out", str(tmp_path / "ab"), "--episodes-per-shard", "3"])
    assert "7 episodes, 51 frames in 3 shards (3 written" in capsys.readouterr().out
    merged = load_episodes(tmp_path / "ab")
    originals = load_episodes(a) + load_episodes(b)
    assert len(merged) == 7
    for got, want in zip(merged, originals):
        assert np.array_equal(got.obs, want.obs) and np.array_equal(got.actions, want.actions)
        assert np.array_equal(got.states, want.states)
    manifest = read_manifest(tmp_path / "ab")
    assert [o["episodes"] for o in manifest["merged_from"]] == [3, 4] and [o["seed"] for o in manifest["merged_from"]] == [0, 1]
    assert manifest["source"] == "synthetic:spring" and manifest["steps"] == 8 and manifest["complete"]
    assert manifest["source_info"]["policy"].startswith("mixed: 3 episodes of")
    assert len(WindowDataset(tmp_path / "ab", window=4)) == 3 * 5 + 4 * 2  # windows within each episode only
    main(["merge", "--inputs", str(a), str(b), "--out", str(tmp_path / "ab")])  # the same merge again: nothing to do
    assert "(0 written, 3 already present)" in capsys.readouterr().out


def test_merge_refuses_other_sources_incomplete_inputs_and_a_taken_output(pair, tmp_path: Path):
    a, b = pair
    pendulum = _collect(tmp_path / "p", source="synthetic:pendulum")
    with pytest.raises(SystemExit, match="different sources.*synthetic:spring.*synthetic:pendulum"):
        main(["merge", "--inputs", str(a), str(pendulum), "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="at least two"):
        main(["merge", "--inputs", str(a), "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="named twice"):
        main(["merge", "--inputs", str(a), str(a), "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="no manifest"):
        main(["merge", "--inputs", str(a), str(tmp_path / "missing"), "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="not this merge"):
        main(["merge", "--inputs", str(a), str(b), "--out", str(pendulum)])
    assert len(load_episodes(pendulum)) == 3  # untouched
    manifest = json.loads((b / MANIFEST).read_text())
    (b / MANIFEST).write_text(json.dumps({**manifest, "complete": False}))
    with pytest.raises(SystemExit, match="not complete"):
        main(["merge", "--inputs", str(a), str(b), "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x" / MANIFEST).exists()


def test_merge_names_a_damaged_shard_and_an_interrupted_merge_is_run_again(pair, tmp_path: Path):
    a, b = pair
    out = tmp_path / "ab"
    shard = b / read_manifest(b)["shards"][1]["file"]
    good = shard.read_bytes()
    shard.write_bytes(good[:-40] + bytes(40))
    with pytest.raises(ShardError, match=shard.name):
        merge_collections([a, b], out, episodes_per_shard=2)
    assert not (out / MANIFEST).exists() and any(out.iterdir())  # shards of a were written, no collection yet
    shard.write_bytes(good)
    summary = merge_collections([a, b], out, episodes_per_shard=2)
    assert summary.episodes == 7 and len(load_episodes(out)) == 7
