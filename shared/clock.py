"""The app's one clock: every "now" in ``shared/`` comes from here, so time can be moved as one.

In Azure it is always the real clock. Locally (the dev stack only) it can be moved forward, so weeks of
collections and fraud can be rehearsed in minutes (``cspguard clock``). Engines never call this: they take
``now`` as an argument; services and adapters ask this module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time (aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


_clock: Clock = SystemClock()


def utcnow() -> datetime:
    """The app's current time (aware, UTC)."""
    return _clock.now()


def use(clock: Clock) -> Clock:
    """Install ``clock`` process-wide and return the previous one (composition root and tests only)."""
    global _clock
    previous, _clock = _clock, clock
    return previous
