"""Back-off for messages the app defers itself (a relay or Partner Center down, a claim still held).

The host's own retries (maxDequeueCount 5, visibilityTimeout 10 s) cover about a minute; deferring re-sends the
message with a growing delay instead, so an outage of hours loses nothing: 15 s, 30 s, 1 min ... capped at 30 min,
about 3 days in all before the message is parked with its reason.
"""

from __future__ import annotations

import random

BASE_SECONDS = 15.0
CAP_SECONDS = 1800.0
MAX_DEFERRALS = 150


def backoff_seconds(attempt: int, rng: random.Random | None = None) -> float:
    """Delay before deferred attempt ``attempt + 1``: exponential with full jitter over the upper half."""
    ceiling = min(CAP_SECONDS, BASE_SECONDS * 2 ** min(attempt, 20))
    return ceiling / 2 + (rng or random).random() * ceiling / 2
