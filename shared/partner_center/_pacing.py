"""Client-side pacing per limit scope (partner tenant; partner+customer pair) so 429s stay rare.

GCRA ("virtual scheduling"): each request reserves the next slot of its scopes up front and sleeps
until it. aiolimiter was the first choice, but it wakes one waiter per event-loop turn; on a busy loop
(hundreds of TLS responses a second) that held the achieved rate near 0.55 of the configured one in
bench/bench_pc_list_subscriptions.py. Reserved slots do not depend on timely wake-ups: a late loop
only lets already-due requests go together, never more than the schedule allows.

The schedule is a pure function (``reserve``); ``Pacer`` only keeps the state and sleeps.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


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


class Pacer:
    """Acquire before each request: the partner scope always, the customer's scope when scoped."""

    def __init__(
        self,
        rate_per_minute: float,
        customer_rate_per_minute: float,
        *,
        burst_seconds: float = 1.0,
        max_customers: int = 4096,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.partner = schedule(rate_per_minute, burst_seconds)
        self.customer = schedule(customer_rate_per_minute, burst_seconds)
        self._partner_tat = float("-inf")
        self._customers: OrderedDict[str, float] = OrderedDict()
        self._max_customers = max_customers
        self._clock = clock
        self._sleep = sleep

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def reserve(self, customer_id: str | None = None) -> float:
        """Reserve a slot in every applicable scope; returns the seconds to wait before sending."""
        now = self._now()
        self._partner_tat, start = reserve(self._partner_tat, now, self.partner)
        if customer_id:
            key = customer_id.lower()
            tat = self._customers.pop(key, float("-inf"))
            tat, customer_start = reserve(tat, now, self.customer)
            self._customers[key] = tat
            if len(self._customers) > self._max_customers:
                self._customers.popitem(last=False)  # least recently used; its slots are long past
            start = max(start, customer_start)
        return start - now

    async def acquire(self, customer_id: str | None = None) -> None:
        delay = self.reserve(customer_id)
        if delay > 0:
            await self._sleep(delay)

    @property
    def tracked_customers(self) -> int:
        return len(self._customers)
