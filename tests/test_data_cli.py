"""The ``lawm collect`` command."""

from __future__ import annotations

from pathlib import Path

import pytest

from lawm_env.cli import COMMANDS, main
from lawm_env.data.storage import load_episodes, read_manifest


def test_collect_command_writes_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    args = ["collect", "--source", "synthetic:spring", "--episodes", "5", "--steps", "8", "--out", str(tmp_path), "--seed", "2", "--episodes-per-shard", "2", "--no-progress"]
    main(args)
    assert "5 episodes, 45 frames in 3 shards (3 written, 0 already present)" in capsys.readouterr().out
    assert read_manifest(tmp_path)["complete"] and len(load_episodes(tmp_path)) == 5
    main(args)
    assert "(0 written, 3 already present)" in capsys.readouterr().out


def test_collect_command_rejects_unknown_source(tmp_path: Path):
    with pytest.raises(SystemExit, match="pendulum, damped_pendulum"):
        main(["collect", "--source", "synthetic:pendulm", "--out", str(tmp_path)])


def test_data_commands_are_registered():
    assert COMMANDS["collect"] == "lawm_env.cli.collect" and COMMANDS["bench-data"] == "lawm_env.cli.bench_data"


def test_collect_command_draws_colored_noise_and_refuses_bad_options(tmp_path: Path):
    pytest.importorskip("dm_control")
    main(["collect", "--source", "dmc:cartpole-swingup", "--episodes", "1", "--steps", "6", "--image-size", "16",
          "--beta", "1", "--out", str(tmp_path / "pink"), "--no-progress"])
    assert "colored noise (beta 1)" in str(read_manifest(tmp_path / "pink"))
    with pytest.raises(SystemExit, match="noise exponent beta"):
        main(["collect", "--source", "dmc:cartpole-swingup", "--beta", "-1", "--out", str(tmp_path / "bad")])
    with pytest.raises(SystemExit, match="synthetic episodes have no actions"):
        main(["collect", "--source", "synthetic:spring", "--beta", "1", "--out", str(tmp_path / "synthetic")])
    main(["collect", "--source", "dmc:cartpole-swingup", "--episodes", "1", "--steps", "6", "--image-size", "16",
          "--center", "1", "0.3", "--out", str(tmp_path / "centred"), "--no-progress"])
    assert "uniform random, pulled to the centre by -(1 x + 0.3 v)" in str(read_manifest(tmp_path / "centred"))
    for center, message in ((["-1", "0"], "centring gains"), (["1", "0"], "no slider")):
        with pytest.raises(SystemExit, match=message):
            main(["collect", "--source", "dmc:pendulum-swingup", "--center", *center, "--out", str(tmp_path / "bad")])
    assert not (tmp_path / "bad").exists()
