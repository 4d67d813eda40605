"""Retry decisions (pure) and the tenacity wait that honours ``Retry-After``.

Retried: 429 (after ``Retry-After`` plus exponential jitter), 5xx/408, network errors and timeouts
(with the SAME ``MS-RequestId``, so the service can de-duplicate), and 800082 "not ready".
Never retried: other 4xx. The 401 refresh and the 2055 re-GET are handled by their callers.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import RetryCallState, wait_exponential_jitter
from tenacity.wait import wait_base

from ._errors import Codes, PartnerCenterError, RestrictionError, ServerError, Throttled, TransportError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. Defaults follow and improve on the .NET SDK (3 retries, ~0.5 s, 1.5 s, 3.5 s)."""

    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 300.0


def is_retryable(exc: BaseException) -> bool:
    """Whether another attempt of the same call may succeed."""
    if isinstance(exc, Throttled | ServerError | TransportError):
        return True
    return isinstance(exc, RestrictionError) and exc.code == Codes.NOT_READY


def reuses_request_id(exc: BaseException | None) -> bool:
    """Timeouts and server errors may have been processed: retry under the same MS-RequestId."""
    return isinstance(exc, ServerError | TransportError)


class wait_retry_after(wait_base):
    """Wait the service's ``Retry-After`` (capped) plus exponential back-off with jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._expo = wait_exponential_jitter(
            multiplier=policy.backoff_initial, max=policy.backoff_max, jitter=policy.jitter
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        backoff = float(self._expo(retry_state))
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(exc, PartnerCenterError) and exc.retry_after is not None:
            return min(exc.retry_after, self._policy.max_retry_after) + backoff
        return backoff
