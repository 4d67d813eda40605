"""What every ``cspguard`` command shares: one-line errors and the ``--env-file`` option.

Errors are printed with ``soft_wrap`` (rich would otherwise break them at the terminal width) and
with any line breaks of the message folded, so one error is always one line a script can grep.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True)

EnvFile = Annotated[
    Path | None,
    typer.Option("--env-file", help="A KEY=VALUE file (e.g. var/stack.env) applied to the environment first."),
]


class EnvFileError(Exception):
    """The ``--env-file`` given does not exist."""


def one_line(message: str) -> str:
    """The message with its line breaks (and the indentation after them) folded into single spaces."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def print_error(message: str) -> None:
    """``error: <message>`` on stderr, on one line whatever the terminal width."""
    err.print(f"[red]error:[/red] {escape(one_line(message))}", markup=True, highlight=False, soft_wrap=True)


def apply_env_file(path: Path | None) -> None:
    """Load a KEY=VALUE file (the local stack's ``var/stack.env``) into the environment."""
    if path is None:
        return
    from dotenv import dotenv_values

    if not path.is_file():
        raise EnvFileError(f"env file not found: {path}")
    os.environ.update({k: v for k, v in dotenv_values(path).items() if v is not None})
