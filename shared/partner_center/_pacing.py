"""Client-side pacing per limit scope (partner tenant; partner+customer pair): adaptive and fair.

- ``reserve`` (pure GCRA, "virtual scheduling"): the slot a scope gives at a rate. aiolimiter was the
  first choice, but it wakes one waiter per event-loop turn; on a busy loop that held the achieved rate
  near 0.55 of the configured one in bench/bench_pc_list_subscriptions.py.
- ``Scope``: one limit scope's adaptive rate (AIMD). A 429 blocks the scope until ``Retry-After`` and
  cuts its rate to what the service let through over the last minute (at most halving it per
  congestion episode); the rate then climbs back additively toward the configured ceiling. So any
  configured rate converges on what the service allows, and 429s stay rare once it has.
- ``Pacer``: callers wait in a priority queue for a slot and an in-flight permit (the concurrency
  bound lives here too, so no second queue reorders them). A retried call (priority = attempts so
  far) is granted before every new one, first come first served within a priority, so a throttled
  call keeps its place instead of losing every freed slot to new calls.
"""

from __future__ import annotations

import asyncio
import math
from bisect import insort
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from itertools import count

WINDOW_SECONDS = 60.0  # Partner Center publishes its limits per minute
SPREAD_SECONDS = 10.0  # 429s for two different scopes this close together point at the partner limit
_EPSILON = 1e-6


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


@dataclass(frozen=True, slots=True)
class Grant:
    """A slot given to one attempt; hand it back to ``Pacer.throttled`` if the attempt got a 429."""

    customer: str | None
    granted_at: float


@dataclass(slots=True)
class _Waiter:
    order: tuple[int, int]
    scope: Scope | None
    customer: str | None
    future: asyncio.Future[Grant]


class Pacer:
    """Acquire before each attempt (the partner scope always, the customer's scope when scoped, an
    in-flight permit) and ``release`` after it."""

    def __init__(
        self,
        rate_per_minute: float,
        customer_rate_per_minute: float,
        *,
        burst_seconds: float = 1.0,
        max_customers: int = 4096,
        max_in_flight: int | None = None,
        adapt: Adaptation | None = None,
    ) -> None:
        self._adapt = adapt or Adaptation()
        self._burst = burst_seconds
        self._customer_rate = customer_rate_per_minute
        self.partner = Scope(rate_per_minute, burst_seconds, self._adapt)
        schedule(customer_rate_per_minute)  # validate now, not at the first customer call
        self._customers: OrderedDict[str, Scope] = OrderedDict()
        self._max_customers = max_customers
        self._waiting: list[_Waiter] = []
        self._seq = count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._last_throttle: tuple[str | None, float] = (None, -math.inf)
        self._max_in_flight = max_in_flight or math.inf
        self._in_flight = 0

    # ---- public -------------------------------------------------------------------------------

    async def acquire(self, customer_id: str | None = None, priority: int = 0) -> Grant:
        """Wait for a slot. Higher ``priority`` (a retry's attempts so far) goes first."""
        loop = asyncio.get_running_loop()
        key = customer_id.lower() if customer_id else None
        scope = self._customer(key) if key else None
        now = loop.time()
        if not self._waiting and self._ready(scope, now):
            return self._grant(scope, key, now)
        waiter = _Waiter((-priority, next(self._seq)), scope, key, loop.create_future())
        insort(self._waiting, waiter, key=lambda w: w.order)
        self._dispatch()
        return await waiter.future

    def release(self) -> None:
        """The attempt of an acquired slot is over (answered or failed): free its in-flight permit."""
        self._in_flight -= 1
        self._dispatch()

    def throttled(self, grant: Grant, retry_after: float | None) -> None:
        """A 429 for ``grant``'s attempt: block and slow the scope it most likely came from.

        The service does not say which limit it was. It is the customer's when that customer's scope
        is under more pressure than the partner's and no other scope was throttled just before;
        429s spread over several customers mean the partner limit.
        """
        now = asyncio.get_running_loop().time()
        scope = self.partner
        customer = self._customers.get(grant.customer) if grant.customer else None
        last_key, last_at = self._last_throttle
        spread = now - last_at < SPREAD_SECONDS and last_key != grant.customer
        if customer is not None and not spread and customer.pressure(now) > self.partner.pressure(now):
            scope = customer
        self._last_throttle = (grant.customer, now)
        scope.throttled(now, retry_after, grant.granted_at)
        self._dispatch()

    def rate(self, customer_id: str | None = None) -> float:
        """The partner (or a customer's) rate per minute in force now."""
        now = asyncio.get_running_loop().time()
        scope = self._customers.get(customer_id.lower()) if customer_id else self.partner
        return scope.rate(now) if scope else self._customer_rate

    @property
    def tracked_customers(self) -> int:
        return len(self._customers)

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiting if not w.future.done())

    # ---- private ------------------------------------------------------------------------------

    def _customer(self, key: str) -> Scope:
        scope = self._customers.pop(key, None) or Scope(self._customer_rate, self._burst, self._adapt)
        self._customers[key] = scope
        if len(self._customers) > self._max_customers:
            self._customers.popitem(last=False)  # least recently used; its slots are long past
        return scope

    def _ready(self, scope: Scope | None, now: float) -> bool:
        return self._in_flight < self._max_in_flight and self.partner.ready_at(now) <= now + _EPSILON and (
            scope is None or scope.ready_at(now) <= now + _EPSILON
        )

    def _grant(self, scope: Scope | None, key: str | None, now: float) -> Grant:
        self._in_flight += 1
        self.partner.take(now)
        if scope is not None:
            scope.take(now)
        return Grant(key, now)

    def _dispatch(self) -> None:
        """Grant every waiter that may start now, in priority order; arm a timer for the next one.

        Every call needs the partner scope and a permit, so when either is missing nobody goes (a
        ``release`` dispatches again); a waiter held only by its own customer's scope lets the next
        waiters (other customers) pass.
        """
        loop = asyncio.get_running_loop()
        now = loop.time()
        wake = math.inf
        i = 0
        while i < len(self._waiting):
            w = self._waiting[i]
            if w.future.done():  # cancelled while waiting
                del self._waiting[i]
                continue
            if self._in_flight >= self._max_in_flight:
                break
            partner_at = self.partner.ready_at(now)
            if partner_at > now + _EPSILON:
                wake = min(wake, partner_at)
                break
            customer_at = w.scope.ready_at(now) if w.scope else now
            if customer_at > now + _EPSILON:
                wake = min(wake, customer_at)
                i += 1
                continue
            del self._waiting[i]
            w.future.set_result(self._grant(w.scope, w.customer, now))
        self._arm(loop, wake)

    def _arm(self, loop: asyncio.AbstractEventLoop, wake: float) -> None:
        if wake == math.inf or (self._timer is not None and self._timer_at <= wake):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = wake
        self._timer = loop.call_at(wake, self._on_timer)

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, math.inf
        self._dispatch()
