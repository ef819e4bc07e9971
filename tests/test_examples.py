"""Every script in examples/ runs end to end on a tiny budget, and every README python block runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY_ARGS: dict[str, list[str]] = {
    "pendulum_energy.py": ["--steps", "300", "--out", "{tmp}/pendulum_energy.png"],
    "exploration_coverage.py": ["--episodes", "2", "--steps", "10", "--betas", "0", "1", "--center", "1", "0.3"],
    "open_loop_psnr.py": ["--data", "{data}", "--runs", "{tmp}/run/checkpoint", "--horizons", "1", "3", "--windows", "4"],
    "planner_upper_bound.py": ["--steps", "3", "--population", "16", "--elites", "4", "--iterations", "2",
                               "--model", "default", "--rank-every", "1", "--candidates", "12"],
    "sb3_in_lawm.py": ["--checkpoint", "{tmp}/tiny64", "--timesteps", "64", "--num-envs", "4", "--n-steps", "16",
                       "--imagined-episodes", "2", "--real-episodes", "1", "--real-steps", "3"],
}


def _prepare(name: str, tmp_path: Path, data: Path) -> None:
    """Artifacts an example needs: a tiny trained run for the evaluation scripts, a tiny 64x64 model of the
    real task for the SB3 script."""
    if name == "sb3_in_lawm.py":
        from conftest import make_tiny_checkpoint

        make_tiny_checkpoint(tmp_path / "tiny64", image_size=64)
    if name == "open_loop_psnr.py":
        from conftest import train_run
        from lawm_env.training.trainer import train

        train(train_run(data=str(data), out=str(tmp_path / "run"), steps=2, batch_size=2, window=6, latent_dim=4,
                           hidden=16, channels=8, video_every=0, progress=False))


def test_every_example_has_a_tiny_budget():
    assert sorted(p.name for p in (ROOT / "examples").glob("*.py")) == sorted(TINY_ARGS)


@pytest.mark.parametrize("name", sorted(TINY_ARGS))
def test_example_runs(name, tmp_path, tiny_pendulum):
    _prepare(name, tmp_path, tiny_pendulum)
    args = [a.format(tmp=tmp_path, data=tiny_pendulum) for a in TINY_ARGS[name]]
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def _readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_has_python_examples():
    assert len(_readme_python_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(_readme_python_blocks())))
def test_readme_python_block_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(_readme_python_blocks()[index], f"README.md block {index}", "exec"), {"__name__": "__readme__"})


def test_readme_python_blocks_share_one_folder():
    """The blocks run in order in one folder as well: blocks that collect into the same directory ask for the same
    collection (another would be refused by the one already there)."""
    calls: dict[str, set[str]] = {}
    for block in _readme_python_blocks():
        for call in re.findall(r"^collect\((.*)\)$", block, flags=re.M):
            folder = re.search(r'Path\("([^"]+)"\)', call)
            assert folder, f"README collect() call without a literal Path: {call}"
            calls.setdefault(folder.group(1), set()).add(call)
    assert calls, "no collect() call found in the README's python blocks"
    differing = {folder: sorted(found) for folder, found in calls.items() if len(found) > 1}
    assert not differing, f"README blocks collect different data into one folder: {differing}"
