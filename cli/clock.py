"""``cspguard clock show | set TIME | advance DURATION``: the local stack's time machine.

Moves the app, the runner's timers and the sandbox together (they all read ``CSPGUARD_LOCAL_CLOCK_FILE``,
which the local stack writes to ``var/stack.env``). Time only moves forward, and only locally: where the
setting is absent (Azure) there is nothing to move.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from cli.collections import EnvFile, JsonFlag, fail, out

app = typer.Typer(help="The local stack's clock (moves forward only; never in Azure).", no_args_is_help=True)


def _clock_file(env_file: Path | None) -> Path | None:
    from shared.settings import SettingsError, load_settings

    if env_file is not None:
        from dotenv import dotenv_values

        if not env_file.is_file():
            raise fail(f"env file not found: {env_file}")
        os.environ.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    try:
        return load_settings().local_clock_file
    except SettingsError as exc:
        raise fail(str(exc)) from None


def _show(shown: dict[str, object], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(shown))
        return
    state = "real time" if shown["real_time"] else f"moved {shown['offset']} ahead of real time"
    out.print(f"{shown['now_beijing']} Beijing ({shown['now']} UTC): {state}", highlight=False, soft_wrap=True)


@app.command()
def show(json_out: JsonFlag = False, env_file: EnvFile = None) -> None:
    """What time the local stack thinks it is."""
    from shared.clock import describe, for_file

    _show(describe(for_file(_clock_file(env_file))), json_out)


def _move(env_file: Path | None, as_json: bool, **how: str) -> None:
    from shared.clock import ClockError, move

    try:
        _show(move(_clock_file(env_file), **how), as_json)
    except ClockError as exc:
        raise fail(str(exc)) from None


@app.command("set")
def set_(when: Annotated[str, typer.Argument(help="ISO time with its offset, e.g. 2026-12-20T09:00+08:00.")],
         json_out: JsonFlag = False, env_file: EnvFile = None) -> None:
    """Jump forward to WHEN; the timers whose schedules fall in the skipped span fire once, past due."""
    _move(env_file, json_out, to=when)


@app.command()
def advance(by: Annotated[str, typer.Argument(help="How far: 8d, 12h, 1d12h, 30m, 2w.")],
            json_out: JsonFlag = False, env_file: EnvFile = None) -> None:
    """Move forward BY a duration."""
    _move(env_file, json_out, by=by)
