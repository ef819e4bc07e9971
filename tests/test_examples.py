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
}


def test_every_example_has_a_tiny_budget():
    assert sorted(p.name for p in (ROOT / "examples").glob("*.py")) == sorted(TINY_ARGS)


@pytest.mark.parametrize("name", sorted(TINY_ARGS))
def test_example_runs(name, tmp_path):
    args = [a.format(tmp=tmp_path) for a in TINY_ARGS[name]]
    env = {**os.environ, "MPLBACKEND": "Agg"}
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
