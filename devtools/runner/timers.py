"""Timer triggers: six-field NCRONTAB (seconds first) or TimeSpan schedules, in UTC.

One invocation of a timer function runs at a time (the host's singleton lock). A run is
``past_due`` when it starts more than one schedule tick late, or when its occurrence came due while
the function was still busy (a previous or manual run); missed occurrences are coalesced into one
late run, never replayed one by one.

The clock may be the local stack's time machine (``shared.clock.FileClock``). When it is moved past one
or more occurrences, the function fires once for them, ``past_due``, as the host does after downtime: an
8-day jump gives one late sweep, a day-by-day advance gives one sweep per day.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from azure.functions.timer import TimerRequest
from croniter import croniter  # type: ignore[import-untyped]

from devtools.runner.invoke import Invocation, invoke
from devtools.runner.metadata import FunctionSpec, IndexingError, TimerTrigger, parse_timespan

log = logging.getLogger("devtools.runner")


POLL_SECONDS = 0.25  # how soon a moved clock is noticed
JUMP = timedelta(seconds=1)  # virtual time running this far ahead of real time means the clock was moved


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Schedule:
    """A parsed timer schedule: NCRONTAB expression or fixed TimeSpan interval."""

    expression: str
    interval: timedelta | None = None
    anchor: datetime | None = None

    @classmethod
    def parse(cls, expression: str, anchor: datetime | None = None) -> Schedule:
        expr = " ".join(expression.split())
        if ":" in expr and " " not in expr:
            interval = parse_timespan(expr)
            if interval <= timedelta(0):
                raise IndexingError(f"timer interval must be positive: {expression!r}")
            return cls(expr, interval, anchor or utcnow())
        if len(expr.split(" ")) != 6 or not croniter.is_valid(expr, second_at_beginning=True):
            raise IndexingError(f"not a six-field NCRONTAB expression (seconds first): {expression!r}")
        return cls(expr)

    def next_after(self, t: datetime) -> datetime:
        """The first occurrence strictly after ``t``."""
        if self.interval is not None and self.anchor is not None:
            n = (t - self.anchor) // self.interval + 1
            return self.anchor + self.interval * max(n, 1)
        return croniter(self.expression, t, second_at_beginning=True).get_next(datetime)

    def latest_at_or_before(self, t: datetime) -> datetime:
        """The last occurrence at or before ``t`` (for coalescing missed runs)."""
        if self.interval is not None and self.anchor is not None:
            return self.anchor + self.interval * max((t - self.anchor) // self.interval, 0)
        start = t.replace(microsecond=0) + timedelta(seconds=1)
        return croniter(self.expression, start, second_at_beginning=True).get_prev(datetime)

    def tick(self, at: datetime) -> timedelta:
        """The length of the schedule period starting at occurrence ``at``."""
        return self.next_after(at) - at


def is_past_due(scheduled: datetime, started: datetime, tick: timedelta, busy: bool) -> bool:
    """A run is late when it starts more than one tick after its occurrence, or waited on a busy function."""
    return busy or (started - scheduled) > tick


class TimerScheduler:
    """Runs one timer function on its schedule; ``fire`` also serves manual triggers."""

    def __init__(self, spec: FunctionSpec,
                 write_outputs: Callable[[FunctionSpec, Invocation], Awaitable[int]],
                 fn_executor: Executor | None, clock: Callable[[], datetime] = utcnow,
                 directory: str = "") -> None:
        assert isinstance(spec.trigger, TimerTrigger)
        self.spec = spec
        self.trigger: TimerTrigger = spec.trigger
        self.schedule = Schedule.parse(spec.trigger.schedule, clock())
        self._write = write_outputs
        self._executor = fn_executor
        self._clock = clock
        self._directory = directory
        self._lock = asyncio.Lock()
        self.last_run: datetime | None = None
        self.runs = 0
        self.last_past_due: bool | None = None

    async def fire(self, *, scheduled: datetime | None = None, busy: bool = False,
                   skipped: bool = False) -> Invocation:
        """Invoke now (waiting for a running invocation first); raises InvocationFailed on error.
        ``skipped``: the clock was moved past ``scheduled`` (always past due)."""
        async with self._lock:
            started = self._clock()
            past_due = scheduled is not None and (skipped or is_past_due(
                scheduled, started, self.schedule.tick(scheduled), busy))
            self.last_past_due = past_due
            status = {"Last": (self.last_run or started).isoformat(),
                      "Next": self.schedule.next_after(started).isoformat(),
                      "LastUpdated": started.isoformat()}
            request = TimerRequest(past_due=past_due, schedule_status=status,
                                        schedule={"AdjustForDST": True})
            self.last_run = started
            try:
                result = await invoke(self.spec, request, self._executor, directory=self._directory)
                await self._write(self.spec, result)
            finally:
                self.runs += 1
            return result

    def status(self) -> dict[str, object]:
        """For ``GET /admin/timers``: how often it ran, the last run and whether one is running now."""
        return {"schedule": self.schedule.expression, "runs": self.runs, "running": self._lock.locked(),
                "last_run": self.last_run.isoformat() if self.last_run else None,
                "last_past_due": self.last_past_due,
                "next": self.schedule.next_after(self._clock()).isoformat()}

    async def run(self, stop: asyncio.Event, *, run_on_startup: bool | None = None) -> None:
        """Fire on schedule until ``stop`` is set; failures are logged, never fatal."""
        if self.trigger.run_on_startup if run_on_startup is None else run_on_startup:
            await self._safe_fire(None, False)
        scheduled = self.schedule.next_after(self._clock())
        while not stop.is_set():
            moved = await self._wait_for(scheduled, stop)
            if moved is None:
                break
            if moved:  # the clock jumped over it: one past-due run for every occurrence skipped
                await self._safe_fire(self.schedule.latest_at_or_before(self._clock()), False, skipped=True)
                scheduled = self.schedule.next_after(self._clock())
                continue
            await self._safe_fire(scheduled, self._lock.locked())
            following = self.schedule.next_after(scheduled)
            now = self._clock()
            if following <= now:  # came due while we were busy: one coalesced late run
                missed = self.schedule.latest_at_or_before(now)
                await self._safe_fire(missed, True)
                following = self.schedule.next_after(self._clock())
            scheduled = following

    async def _wait_for(self, scheduled: datetime, stop: asyncio.Event) -> bool | None:
        """Sleep until ``scheduled`` by the clock (re-read every POLL_SECONDS, so a moved clock is seen):
        None if stopped, else whether the clock was moved past it."""
        real0, virtual0 = time.monotonic(), self._clock()
        while True:
            now = self._clock()
            delay = (scheduled - now).total_seconds()
            if delay <= 0:
                ahead = (now - virtual0) - timedelta(seconds=time.monotonic() - real0)
                return ahead > JUMP and now - scheduled > JUMP
            try:
                await asyncio.wait_for(stop.wait(), min(delay, POLL_SECONDS))
                return None
            except TimeoutError:
                pass

    async def _safe_fire(self, scheduled: datetime | None, busy: bool, *, skipped: bool = False) -> None:
        try:
            await self.fire(scheduled=scheduled, busy=busy, skipped=skipped)
        except Exception:
            log.debug("timer %s invocation failed (already logged)", self.spec.name)
