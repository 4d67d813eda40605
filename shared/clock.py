"""The app's one clock: every "now" in ``shared/`` comes from here, so time can be moved as one.

In Azure it is always the real clock. Locally (the dev stack only) it can be moved forward, so weeks of
collections and fraud can be rehearsed in minutes (``cspguard clock``). Engines never call this: they take
``now`` as an argument; services and adapters ask this module.

The local time machine is a small JSON file (``CSPGUARD_LOCAL_CLOCK_FILE``, written by the stack under its
state directory) holding a forward-only offset from real time. Every local process (the app, the runner's
timers, the sandbox, the CLI) reads the same file, so they move together; settings refuse the file outside
the local stack (see ``shared.settings``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel

_BEIJING = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    """Something that tells the time (aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ClockError(ValueError):
    """A clock change that is not allowed (backwards, unparsable); the message says why."""


class ClockState(BaseModel):
    """What the time machine file holds and what ``cspguard clock show`` prints."""

    offset_seconds: float = 0.0
    changed_at: AwareDatetime | None = None  # real time of the last change
    changes: int = 0

    @property
    def offset(self) -> timedelta:
        return timedelta(seconds=self.offset_seconds)

    @property
    def is_real(self) -> bool:
        return self.offset_seconds == 0


class FileClock:
    """Real time plus the offset kept in ``path`` (missing file: real time). Re-read only when it changes."""

    def __init__(self, path: Path, real: Clock | None = None) -> None:
        self.path = Path(path)
        self._real = real or SystemClock()
        self._seen: tuple[int, int] | None = None
        self._state = ClockState()

    def state(self) -> ClockState:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._seen, self._state = None, ClockState()
            return self._state
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._seen:
            text = self.path.read_text(encoding="utf-8")
            self._state = ClockState.model_validate_json(text) if text.strip() else ClockState()
            self._seen = stamp
        return self._state

    def now(self) -> datetime:
        return self._real.now() + self.state().offset

    def set(self, target: datetime) -> ClockState:
        """Move to ``target`` (aware); never backwards."""
        if target.tzinfo is None:
            raise ClockError(f"{target.isoformat()} has no UTC offset: write e.g. 2026-12-20T09:00+08:00")
        with self._locked():
            current = self.now()
            if target < current:
                raise ClockError(f"time only moves forward: {target.isoformat()} is before the clock's "
                                 f"{current.astimezone(target.tzinfo).isoformat(timespec='seconds')}")
            return self._write(self.state().offset + (target - current))

    def advance(self, delta: timedelta) -> ClockState:
        """Move forward by ``delta`` (positive)."""
        if delta <= timedelta(0):
            raise ClockError("time only moves forward: advance by a positive duration such as 8d or 12h")
        with self._locked():
            return self._write(self.state().offset + delta)

    def _write(self, offset: timedelta) -> ClockState:
        new = ClockState(offset_seconds=offset.total_seconds(), changed_at=self._real.now(),
                         changes=self.state().changes + 1)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(new.model_dump_json(), encoding="utf-8")
        os.replace(tmp, self.path)  # readers see the old or the new file, never half of one
        self._seen = None
        return new

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time across processes (two concurrent ``advance`` calls both count)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._seen = None
            yield


_clock: Clock = SystemClock()


def utcnow() -> datetime:
    """The app's current time (aware, UTC)."""
    return _clock.now()


def use(clock: Clock) -> Clock:
    """Install ``clock`` process-wide and return the previous one (composition root and tests only)."""
    global _clock
    previous, _clock = _clock, clock
    return previous


def current() -> Clock:
    """The installed clock (the runner and the sandbox share it when they run in the app's process)."""
    return _clock


def for_file(path: Path | None) -> Clock:
    """The clock for a ``CSPGUARD_LOCAL_CLOCK_FILE`` setting: the time machine if set, else real time."""
    return FileClock(path) if path is not None else SystemClock()


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])", re.IGNORECASE)
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """``8d``, ``12h``, ``1d12h``, ``90m``, ``2w`` -> timedelta (ClockError if unreadable)."""
    compact = text.strip().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts).lower() != compact.lower():
        raise ClockError(f"{text!r} is not a duration like 8d, 12h, 1d12h or 30m")
    return sum((timedelta(**{_UNITS[u.lower()]: float(n)}) for n, u in parts), timedelta(0))


def parse_instant(text: str) -> datetime:
    """An ISO 8601 time with its UTC offset, e.g. ``2026-12-20T09:00+08:00`` (ClockError otherwise)."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ClockError(f"{text!r} is not an ISO 8601 time like 2026-12-20T09:00+08:00") from None
    if parsed.tzinfo is None:
        raise ClockError(f"{text!r} has no UTC offset: write e.g. 2026-12-20T09:00+08:00")
    return parsed


def describe(clock: Clock) -> dict[str, object]:
    """The clock as operators see it (``cspguard clock show``, ``GET /api/clock``, the stack banner)."""
    state = clock.state() if isinstance(clock, FileClock) else ClockState()
    now = clock.now()
    return {"now": now.isoformat(), "now_beijing": now.astimezone(_BEIJING).isoformat(timespec="seconds"),
            "real_time": state.is_real, "offset_seconds": state.offset_seconds, "offset": human(state.offset),
            "movable": isinstance(clock, FileClock)}


def human(delta: timedelta) -> str:
    """``+8d 3h 5m`` (seconds dropped): how far the clock is ahead of real time."""
    total = int(delta.total_seconds())
    if total == 0:
        return "0"
    days, rest = divmod(abs(total), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes)
    return ("+" if total > 0 else "-") + (" ".join(parts) or f"{abs(total)}s")


class NotMovable(ClockError):
    """This deployment runs on the real clock (always so in Azure)."""


def time_machine(clock_file: Path | None) -> FileClock:
    """The local stack's time machine, or NotMovable where time is real (no ``CSPGUARD_LOCAL_CLOCK_FILE``)."""
    if clock_file is None:
        raise NotMovable("time cannot be moved here: csp-guard runs on the real clock (only the local stack, "
                         "`make run` or tests, has a time machine)")
    return FileClock(clock_file)


def move(clock_file: Path | None, *, to: str | None = None, by: str | None = None) -> dict[str, object]:
    """``cspguard clock set|advance`` and ``POST /api/clock``: move the local clock forward, return it."""
    machine = time_machine(clock_file)
    if (to is None) == (by is None):
        raise ClockError('say either where to ("set": "2026-12-20T09:00+08:00") or how far ("advance": "8d")')
    if to is not None:
        machine.set(parse_instant(to))
    else:
        machine.advance(parse_duration(by or ""))
    return describe(machine)
