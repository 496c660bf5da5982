"""What every command shares: exit codes and how a command is declared."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bronwijzer.settings import env_name

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


def command(sub: Any, name: str, handler: Callable[..., int | None], help_: str,
            index: bool = True) -> argparse.ArgumentParser:
    """A subcommand whose `handler(args, settings)` runs it; most take --index."""
    p = sub.add_parser(name, help=help_, description=help_)
    p.set_defaults(handler=handler)
    if index:
        p.add_argument("--index", type=Path,
                       help=f"index folder (default: {env_name('index_dir')})")
    return p


def usage(parser: argparse.ArgumentParser) -> int:
    """A command group called without its subcommand: its help, and the usage exit code."""
    parser.print_help()
    return EXIT_USAGE
