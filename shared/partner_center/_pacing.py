"""Client-side pacing per limit scope (partner tenant; partner+customer pair) so 429s stay rare.

aiolimiter's leaky bucket holds ``max_rate`` tokens; a bucket sized for a whole minute would let a
minute's worth of requests out at once, so buckets are sized for ``burst_seconds`` instead: the same
long-run rate, small bursts.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from aiolimiter import AsyncLimiter


@dataclass(frozen=True, slots=True)
class BucketShape:
    """``max_rate`` requests per ``time_period`` seconds, with ``max_rate >= 1``."""

    max_rate: float
    time_period: float

    @property
    def per_minute(self) -> float:
        return self.max_rate * 60.0 / self.time_period


def bucket_shape(rate_per_minute: float, burst_seconds: float = 1.0) -> BucketShape:
    """A bucket with the given long-run rate whose capacity covers about ``burst_seconds``."""
    if rate_per_minute <= 0:
        raise ValueError("rate_per_minute must be positive")
    per_second = rate_per_minute / 60.0
    capacity = max(1.0, per_second * burst_seconds)
    return BucketShape(max_rate=capacity, time_period=capacity / per_second)


class Pacer:
    """Acquire before each request: the partner bucket always, the customer's bucket when scoped."""

    def __init__(
        self,
        rate_per_minute: float,
        customer_rate_per_minute: float,
        *,
        burst_seconds: float = 1.0,
        max_customers: int = 4096,
    ) -> None:
        shape = bucket_shape(rate_per_minute, burst_seconds)
        self._partner = AsyncLimiter(shape.max_rate, shape.time_period)
        self._customer_shape = bucket_shape(customer_rate_per_minute, burst_seconds)
        self._customers: OrderedDict[str, AsyncLimiter] = OrderedDict()
        self._max_customers = max_customers

    def _customer(self, customer_id: str) -> AsyncLimiter:
        """The customer's bucket; least recently used buckets are dropped beyond ``max_customers``."""
        key = customer_id.lower()
        limiter = self._customers.get(key)
        if limiter is None:
            limiter = AsyncLimiter(self._customer_shape.max_rate, self._customer_shape.time_period)
            self._customers[key] = limiter
            if len(self._customers) > self._max_customers:
                self._customers.popitem(last=False)
        else:
            self._customers.move_to_end(key)
        return limiter

    async def acquire(self, customer_id: str | None = None) -> None:
        """Wait until one more request fits every applicable scope."""
        if customer_id:
            await self._customer(customer_id).acquire()
        await self._partner.acquire()

    @property
    def tracked_customers(self) -> int:
        return len(self._customers)
