"""Every command line in the README's and the model card's bash blocks names options that exist.

``lawm`` lines are parsed by the subcommand's own tyro config (nothing runs); ``python examples/...`` lines
have each ``--option`` checked against the script's ``--help``.
"""

from __future__ import annotations

import importlib
import re
import shlex
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import tyro

from lawm_env.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "lawm_env/assets/MODEL_CARD.md")


def _command_lines(text: str) -> list[list[str]]:
    """The ``lawm`` and ``python examples/`` commands of a document's bash blocks, as argument lists: line
    continuations joined, comments dropped, ``a && b`` split into its commands."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words[:1] == ["lawm"] or (len(words) > 1 and words[0] == "python" and words[1].startswith("examples/")):
                    commands.append(words)
    return commands


DOCUMENTED = [(doc, words) for doc in DOCS for words in _command_lines((ROOT / doc).read_text())]


@lru_cache(maxsize=None)
def _example_help(script: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_docs_show_commands_of_both_kinds():
    kinds = {words[0] for _, words in DOCUMENTED}
    assert kinds == {"lawm", "python"}
    assert sum(doc.endswith("MODEL_CARD.md") for doc, _ in DOCUMENTED) >= 5


def test_command_lines_are_split_as_a_shell_would():
    text = "```bash\npip install x && lawm demo --seed 1  # a comment\nlawm eval --a 1 \\\n  --b 2\nls\npython\n```\n"
    assert _command_lines(text) == [["lawm", "demo", "--seed", "1"], ["lawm", "eval", "--a", "1", "--b", "2"]]


@pytest.mark.parametrize(("doc", "words"), DOCUMENTED, ids=[f"{doc}: {' '.join(words)[:70]}" for doc, words in DOCUMENTED])
def test_documented_command_parses(doc, words):
    if words[0] == "lawm":
        assert words[1] in COMMANDS, f"{doc}: unknown subcommand {words[1]!r}"
        module = importlib.import_module(COMMANDS[words[1]])
        try:
            tyro.cli(module.Config, args=words[2:], prog=f"lawm {words[1]}")
        except SystemExit as error:
            pytest.fail(f"{doc}: `{' '.join(words)}` does not parse ({error})")
    else:
        options = {word.split("=")[0] for word in words[2:] if word.startswith("--")}
        missing = sorted(option for option in options
                         if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", _example_help(words[1])))
        assert not missing, f"{doc}: {words[1]} has no option {missing}"
