"""The ``lawm`` command line: one subcommand per job, each a frozen dataclass config read by tyro.

Each subcommand module defines a config dataclass and a ``run(config)`` function; ``COMMANDS`` maps the
subcommand name to the module path so importing the CLI stays cheap: ``lawm --help`` reads each command's
description from its module's source without importing it.

Errors caused by the user's input (``USER_ERRORS``) are reported as one line on stderr,
``lawm <command>: error: <message>``, with exit status 2; an interrupt exits with status 130; any other
exception keeps its traceback.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

# name -> module that defines `Config` and `run(config)`.
COMMANDS: dict[str, str] = {
    "actor-critic": "lawm_env.cli.actor_critic",
    "bench": "lawm_env.cli.bench",
    "bench-data": "lawm_env.cli.bench_data",
    "collect": "lawm_env.cli.collect",
    "demo": "lawm_env.cli.demo",
    "diagnose": "lawm_env.cli.diagnose",
    "eval": "lawm_env.cli.eval",
    "export": "lawm_env.cli.export",
    "mbrl": "lawm_env.cli.mbrl",
    "merge": "lawm_env.cli.merge",
    "study": "lawm_env.cli.study",
    "train": "lawm_env.cli.train",
}

USER_ERRORS: tuple[str, ...] = (
    "lawm_env.errors.UserError",  # CheckpointError and BadValueError among them
    "lawm_env.data.storage.ShardError",
    "builtins.FileNotFoundError",
    "builtins.NotADirectoryError",
    "builtins.IsADirectoryError",
    "builtins.PermissionError",
)
"""Exception types (``module.name``) reported as one line; their modules are imported only when an error occurs."""

USAGE = "usage: lawm [-h] [--version] COMMAND [options]"


def summary(docstring: str | None) -> str:
    """A docstring's opening phrase: its first paragraph on one line, up to the first colon or full stop, without
    reST double backquotes ('' for none)."""
    paragraph = " ".join((docstring or "").strip().split("\n\n")[0].split())
    return re.split(r"(?<=[.:])\s", paragraph)[0].rstrip(".:").replace("``", "`")


def describe(name: str) -> str:
    """The one-line description of command ``name``: the summary of its module's docstring, read from the source
    without importing the module."""
    spec = importlib.util.find_spec(COMMANDS[name])
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"no module {COMMANDS[name]} for command {name!r}")
    with open(spec.origin, encoding="utf-8") as source:
        return summary(ast.get_docstring(ast.parse(source.read())))


def help_text() -> str:
    """The usage line and one line per command with its description."""
    width = max(map(len, COMMANDS))
    lines = [USAGE, "", "Least Action World Models: world models whose latent transition solves a discrete Euler-Lagrange equation.",
             "", "commands:"]
    lines += [f"  {name:<{width}}  {describe(name)}" for name in sorted(COMMANDS)]
    lines += ["", "options:", f"  {'-h, --help':<{width}}  show this message and exit",
              f"  {'--version':<{width}}  print the version and exit", "", "Run `lawm COMMAND --help` for a command's options."]
    return "\n".join(lines)


def user_errors() -> tuple[type[BaseException], ...]:
    """The exception classes named in ``USER_ERRORS`` (importing their modules)."""
    types = []
    for qualified in USER_ERRORS:
        module, name = qualified.rsplit(".", 1)
        types.append(getattr(importlib.import_module(module), name))
    return tuple(types)


def error_message(error: BaseException) -> str:
    """``error`` as one line: an OS error as its description and file name(s), any other as its text (its type's
    name when it has none)."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        names = [error.filename] + ([error.filename2] if error.filename2 is not None else [])
        text = f"{error.strerror}: " + " -> ".join(map(str, names))
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


def fail(line: str, status: int) -> NoReturn:
    """Write ``line`` to stderr and exit with ``status``; the SystemExit's text is ``line`` and its code ``status``."""
    print(line, file=sys.stderr)
    exit_ = SystemExit(line)
    exit_.code = status
    raise exit_


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``lawm`` script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(help_text())
        return
    if args[0] == "--version":
        from lawm_env import __version__

        print(f"lawm {__version__}")
        return
    name = args[0]
    if name not in COMMANDS:
        if name.startswith("-"):
            fail(f"lawm: error: unknown option {name!r} (see lawm --help)", 2)
        fail(f"lawm: error: unknown command {name!r}; choose one of: {', '.join(sorted(COMMANDS))}", 2)
    try:
        import tyro

        module = importlib.import_module(COMMANDS[name])
        config = tyro.cli(module.Config, args=args[1:], prog=f"lawm {name}", description=module.__doc__)
        module.run(config)
    except KeyboardInterrupt:
        fail(f"lawm {name}: interrupted", 130)
    except Exception as error:
        if not isinstance(error, user_errors()):
            raise
        fail(f"lawm {name}: error: {error_message(error)}", 2)
