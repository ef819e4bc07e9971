"""The ``lawm`` front door: help, version, and user errors reported as one line with exit status 2."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

import lawm_env
from lawm_env.cli import COMMANDS, describe, error_message, main, summary


def _exit(argv: list[str]) -> SystemExit:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value


def test_help_lists_every_command_with_its_description(capsys):
    main(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: lawm")
    rows = {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines() if line.startswith("  ") and not line.lstrip().startswith("-")}
    assert set(rows) == set(COMMANDS)
    for name, text in rows.items():
        assert text == describe(name) and text.strip() and "\n" not in text
    main([])
    assert capsys.readouterr().out == out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_descriptions_follow_the_command_modules_docstrings(name):
    assert describe(name) == summary(importlib.import_module(COMMANDS[name]).__doc__)
    assert 0 < len(describe(name)) <= 140


def test_summary_is_the_opening_phrase_of_the_first_paragraph():
    assert summary("Train a model on ``data``.\n\nDetails.") == "Train a model on `data`"
    assert summary("Benchmarks, one per\nsuite: a, b. More") == "Benchmarks, one per suite"
    assert summary("Read synthetic:pendulum data") == "Read synthetic:pendulum data"
    assert summary(None) == ""


def test_help_imports_no_command_module():
    code = ("import sys; from lawm_env.cli import main; main(['--help']); "
            "print(sorted(m for m in sys.modules if m.startswith('lawm_env.cli.') or m in ('tyro', 'lawm_env.checkpoint')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_version(capsys):
    main(["--version"])
    assert capsys.readouterr().out == f"lawm {lawm_env.__version__}\n"


@pytest.mark.parametrize("argv, start", [(["trian"], "lawm: error: unknown command 'trian'; choose one of: actor-critic"),
                                         (["--verbose"], "lawm: error: unknown option '--verbose'")])
def test_unknown_command_or_option_is_one_line(capsys, argv, start):
    exc = _exit(argv)
    out, err = capsys.readouterr()
    assert exc.code == 2 and out == ""
    assert err.startswith(start) and err.count("\n") == 1 and str(exc) == err.strip()


def test_missing_checkpoint_is_one_line(capsys, tmp_path):
    exc = _exit(["eval", "--checkpoints", str(tmp_path / "nowhere"), "--data", str(tmp_path / "data"), "--out", str(tmp_path / "eval")])
    err = capsys.readouterr().err
    assert exc.code == 2
    assert err == f"lawm eval: error: checkpoint directory {tmp_path / 'nowhere'} does not exist\n"
    assert not (tmp_path / "eval").exists()


def test_missing_data_is_one_line_from_the_installed_command(tmp_path):
    missing = tmp_path / "no-data"
    done = subprocess.run([sys.executable, "-m", "lawm_env.cli", "train", "--data", str(missing), "--out", str(tmp_path / "run"),
                           "--device", "cpu"], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"lawm train: error: no manifest at {missing}")
    assert "Traceback" not in done.stderr


PROBE = '''
"""Probe command: raises what it is told to."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    error: str = "nothing"


def run(config: Config) -> None:
    from lawm_env.errors import UserError

    errors = {"user": UserError("the option --x must be positive,\\nnot -1"),
              "permission": PermissionError(13, "Permission denied", "/root/out"),
              "directory": IsADirectoryError(21, "Is a directory", "/tmp"),
              "interrupt": KeyboardInterrupt(),
              "bug": RuntimeError("a bug")}
    if config.error in errors:
        raise errors[config.error]
    print("ran")
'''


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """A ``probe`` command whose run raises the exception named by ``--error``."""
    (tmp_path / "lawm_probe_command.py").write_text(textwrap.dedent(PROBE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(COMMANDS, "probe", "lawm_probe_command")
    yield
    sys.modules.pop("lawm_probe_command", None)


@pytest.mark.parametrize("kind, status, line", [
    ("user", 2, "lawm probe: error: the option --x must be positive, not -1"),
    ("permission", 2, "lawm probe: error: Permission denied: /root/out"),
    ("directory", 2, "lawm probe: error: Is a directory: /tmp"),
    ("interrupt", 130, "lawm probe: interrupted"),
])
def test_expected_errors_are_one_line_with_their_status(probe, capsys, kind, status, line):
    exc = _exit(["probe", "--error", kind])
    assert exc.code == status and capsys.readouterr().err == line + "\n"


def test_unexpected_errors_keep_their_traceback(probe, capsys):
    main(["probe"])
    assert capsys.readouterr().out == "ran\n"
    with pytest.raises(RuntimeError, match="a bug"):
        main(["probe", "--error", "bug"])
    assert capsys.readouterr().err == ""
    assert describe("probe") == "Probe command"


def test_error_message_is_one_line():
    assert error_message(FileNotFoundError("no model at x:\n  pass --checkpoint")) == "no model at x: pass --checkpoint"
    assert error_message(FileNotFoundError(2, "No such file or directory", "/a")) == "No such file or directory: /a"
    assert error_message(PermissionError(13, "Permission denied", "/a", None, "/b")) == "Permission denied: /a -> /b"
    assert error_message(ValueError()) == "ValueError"
