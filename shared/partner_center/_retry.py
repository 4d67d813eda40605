"""Retry decisions (pure) and the tenacity stop and wait for them.

Retried: 429 (the pacer holds the call until ``Retry-After`` and gives it the next free slot, ahead
of new calls), 5xx/408, network errors and timeouts, and 800082 "not ready". Never retried: other
4xx. The 401 refresh and the 2055 re-GET are handled by their callers.

``MS-RequestId`` is reused only when retrying after a timeout (the first attempt may have been
processed; the service de-duplicates on it); after any response, success or failure, it is new.

A 429 was not processed, so retrying it is always safe: 429s do not count against
``max_attempts``, only against ``max_throttled_seconds`` of waiting for one call. No call fails for
good because the configured rate was above what the service allows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import RetryCallState, wait_exponential_jitter
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from ._errors import Codes, RestrictionError, ServerError, Throttled, TransportError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. Defaults follow and improve on the .NET SDK (3 retries, ~0.5 s, 1.5 s, 3.5 s)."""

    max_attempts: int = 5  # attempts that failed otherwise than with a 429
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 300.0  # a longer Retry-After is capped to this
    max_throttled_seconds: float = 480.0  # give up on a call 429'd this long: below host.json functionTimeout (10 min)


def is_retryable(exc: BaseException) -> bool:
    """Whether another attempt of the same call may succeed."""
    if isinstance(exc, Throttled | ServerError | TransportError):
        return True
    return isinstance(exc, RestrictionError) and exc.code == Codes.NOT_READY


def reuses_request_id(exc: BaseException | None) -> bool:
    """Only a timeout (no answer; the call may have been processed) keeps the same MS-RequestId."""
    return isinstance(exc, TransportError) and exc.timed_out


def _failure(retry_state: RetryCallState) -> BaseException | None:
    outcome = retry_state.outcome
    return outcome.exception() if outcome is not None and outcome.failed else None


class stop_retrying(stop_base):
    """Stop after ``max_attempts`` non-429 failures, or once 429s held the call too long.

    Stateful (it counts the non-429 failures of one call from its start): make one per call. ``clock``
    is the event loop's, the one the pacer waits on.
    """

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self._policy = policy
        self._clock = clock
        self._started = clock()
        self._failures = 0

    def __call__(self, retry_state: RetryCallState) -> bool:
        if isinstance(_failure(retry_state), Throttled):
            return self._clock() - self._started >= self._policy.max_throttled_seconds
        self._failures += 1
        return self._failures >= self._policy.max_attempts


class wait_backoff(wait_base):
    """Exponential back-off with jitter for failures; nothing for a 429, whose ``Retry-After`` the
    pacer enforces for every call of the throttled scope (so the call also keeps its place)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._expo = wait_exponential_jitter(
            multiplier=policy.backoff_initial, max=policy.backoff_max, jitter=policy.jitter
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        if isinstance(_failure(retry_state), Throttled):
            return 0.0
        return float(self._expo(retry_state))
