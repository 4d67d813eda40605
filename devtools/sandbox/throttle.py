"""Sliding-window request limits, per partner tenant and per (partner, customer) pair."""

from __future__ import annotations

import math
from collections import deque

WINDOW_SECONDS = 60.0


class SlidingWindow:
    """Counts requests per key over the last minute; ``now`` is an argument, so it is testable."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str, limit: int, now: float, *, count_rejected: bool = True) -> int | None:
        """Record a request; None when allowed, else the seconds to wait (Retry-After, >= 1)."""
        q = self._hits.setdefault(key, deque())
        while q and q[0] <= now - WINDOW_SECONDS:
            q.popleft()
        if len(q) < limit:
            q.append(now)
            return None
        if count_rejected:
            q.append(now)
        # The request fits once all but limit-1 of the counted ones have left the window.
        oldest_blocking = q[len(q) - limit]
        return max(1, math.ceil(oldest_blocking + WINDOW_SECONDS - now))

    def clear(self) -> None:
        self._hits.clear()
