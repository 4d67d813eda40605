"""Pure pacing state of one limit scope: the GCRA schedule and the adaptive (AIMD) rate.

- ``reserve`` (GCRA, "virtual scheduling"): the slot a scope gives at a rate. aiolimiter was the first
  choice, but it wakes one waiter per event-loop turn; on a busy loop that held the achieved rate near
  0.55 of the configured one in bench/bench_pc_list_subscriptions.py.
- ``Scope``: a 429 blocks the scope until ``Retry-After`` and cuts its rate to what the service let
  through over the last minute (at most halving it per congestion episode); the rate then climbs back
  additively toward the configured ceiling. So any configured rate converges on what the service
  allows, and 429s stay rare once it has. Every method takes ``now``: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

WINDOW_SECONDS = 60.0  # Partner Center publishes its limits per minute


@dataclass(frozen=True, slots=True)
class Schedule:
    """Rate ``per_minute`` with ``burst`` requests allowed ahead of the steady pace."""

    per_minute: float
    burst: float = 1.0

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute

    @property
    def tolerance(self) -> float:
        return max(0.0, self.burst - 1.0) * self.interval


def schedule(per_minute: float, burst_seconds: float = 1.0) -> Schedule:
    """A schedule whose burst covers about ``burst_seconds`` of traffic (at least one request)."""
    if per_minute <= 0:
        raise ValueError("per_minute must be positive")
    return Schedule(per_minute, max(1.0, per_minute / 60.0 * burst_seconds))


def reserve(tat: float, now: float, plan: Schedule) -> tuple[float, float]:
    """Reserve one slot: returns (new theoretical arrival time, start time >= now).

    In any window of ``w`` seconds at most ``w / interval + burst`` reservations start.
    """
    tat = max(tat, now)
    start = max(now, tat - plan.tolerance)
    return tat + plan.interval, start


@dataclass(frozen=True, slots=True)
class Adaptation:
    """How a scope reacts to 429s: cut to ``accepted_share`` of the rate the service let through
    (never below ``max_cut`` of the current rate in one episode), then regain ``recovery`` of the
    post-cut rate per minute (at least ``min_recovery`` of the ceiling per minute)."""

    accepted_share: float = 0.95
    max_cut: float = 0.5
    recovery: float = 0.05
    min_recovery: float = 0.01
    floor_per_minute: float = 1.0
    default_retry_after: float = 1.0  # a 429 without Retry-After (or the body hint)


@dataclass(slots=True)
class Scope:
    """One limit scope: its GCRA state, its adaptive rate and the sends of the last minute (pure: every
    method takes ``now``)."""

    ceiling: float
    burst_seconds: float = 1.0
    adapt: Adaptation = field(default_factory=Adaptation)
    tat: float = -math.inf
    blocked_until: float = -math.inf
    cut_at: float = -math.inf  # when the rate was last cut: 429s of calls granted before it are echoes
    base: float = 0.0  # the rate right after the last cut
    recover_from: float = -math.inf
    sent: deque[float] = field(default_factory=deque)
    throttles: int = 0
    cuts: int = 0

    def rate(self, now: float) -> float:
        """The rate in force at ``now``: the ceiling until the first 429, then the additive climb."""
        if self.recover_from == -math.inf:
            return self.ceiling
        a = self.adapt
        step = max(a.recovery * self.base, a.min_recovery * self.ceiling)
        climbed = step * max(0.0, now - self.recover_from) / 60.0
        return min(self.ceiling, self.base + climbed)

    def ready_at(self, now: float) -> float:
        """Earliest time the next request of this scope may start."""
        plan = schedule(self.rate(now), self.burst_seconds)
        return max(self.tat - plan.tolerance, self.blocked_until)

    def take(self, now: float) -> None:
        """Consume the slot at ``now`` (the caller checked ``ready_at``)."""
        self.tat = max(self.tat, now) + 60.0 / self.rate(now)
        self.sent.append(now)
        self._trim(now)

    def pressure(self, now: float) -> float:
        """Sends of the last minute as a share of the configured rate (which scope a 429 came from)."""
        self._trim(now)
        return len(self.sent) * (60.0 / WINDOW_SECONDS) / self.ceiling

    def throttled(self, now: float, retry_after: float | None, granted_at: float) -> bool:
        """A 429 for a call granted at ``granted_at``: block, and cut once per episode. True if cut."""
        self.throttles += 1
        a = self.adapt
        wait = a.default_retry_after if retry_after is None else max(0.0, retry_after)
        self.blocked_until = max(self.blocked_until, now + wait)
        current = self.rate(now)
        cut = granted_at >= self.cut_at
        if cut:
            self._trim(now)
            accepted = len(self.sent) * 60.0 / WINDOW_SECONDS
            current = min(current, max(a.accepted_share * accepted, a.max_cut * current))
            current = max(current, min(a.floor_per_minute, self.ceiling))
            self.cut_at = now
            self.cuts += 1
        self.base = current
        self.recover_from = self.blocked_until
        # No burst when the block lifts: the first request goes at blocked_until, then the steady pace.
        self.tat = max(self.tat, self.blocked_until + schedule(current, self.burst_seconds).tolerance)
        return cut

    def _trim(self, now: float) -> None:
        while self.sent and self.sent[0] <= now - WINDOW_SECONDS:
            self.sent.popleft()
