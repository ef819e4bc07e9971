"""The ``lawm`` command line: one subcommand per job, each a frozen dataclass config read by tyro.

Each subcommand module defines a config dataclass and a ``run(config)`` function; ``COMMANDS`` maps the
subcommand name to the module path so importing the CLI stays cheap.
"""

from __future__ import annotations

import importlib
import sys
from typing import Sequence

import tyro

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
    "train": "lawm_env.cli.train",
}


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``lawm`` script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] not in COMMANDS:
        names = ", ".join(sorted(COMMANDS))
        print(f"usage: lawm {{{names}}} [options]   (lawm COMMAND --help for a command's options)")
        if args and args[0] not in ("-h", "--help"):
            raise SystemExit(f"lawm: unknown command {args[0]!r}; choose one of: {names}")
        return
    module = importlib.import_module(COMMANDS[args[0]])
    config = tyro.cli(module.Config, args=args[1:], prog=f"lawm {args[0]}", description=module.__doc__)
    module.run(config)
