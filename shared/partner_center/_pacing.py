"""Client-side pacing per limit scope (partner tenant; partner+customer pair): adaptive and fair.

Callers wait in a priority queue for a slot of every scope they need (``_scope.Scope``: GCRA plus
an AIMD rate that a 429 cuts and time restores) and an in-flight permit (the concurrency bound lives
here too, so no second queue reorders them). A retried call (priority = attempts so far) is granted
before every new one, first come first served within a priority, so a throttled call keeps its place
instead of losing every freed slot to new calls.
"""

from __future__ import annotations

import asyncio
import math
from bisect import insort
from collections import OrderedDict
from dataclasses import dataclass
from itertools import count

from ._scope import Adaptation, Scope, schedule

SPREAD_SECONDS = 10.0  # 429s for two different scopes this close together point at the partner limit
_EPSILON = 1e-6


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
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self.release()  # granted, then cancelled before it could run: give the permit back
            raise

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
