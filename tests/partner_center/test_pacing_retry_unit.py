from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tenacity import RetryCallState, Retrying

from shared.partner_center import (
    AuthError,
    Codes,
    EtagMismatch,
    NotFound,
    RestrictionError,
    RetryPolicy,
    ServerError,
    Throttled,
    TransportError,
)
from shared.partner_center._pacing import Pacer, bucket_shape
from shared.partner_center._retry import is_retryable, reuses_request_id, wait_retry_after


@given(st.floats(min_value=0.5, max_value=1e6), st.floats(min_value=0.1, max_value=60))
def test_bucket_shape_keeps_the_rate(rate: float, burst: float) -> None:
    shape = bucket_shape(rate, burst)
    assert shape.max_rate >= 1
    assert shape.per_minute == pytest.approx(rate, rel=1e-9)


def test_bucket_shape_small_bursts() -> None:
    assert bucket_shape(12_000, 1.0).max_rate == pytest.approx(200)
    assert bucket_shape(30, 1.0).max_rate == 1.0  # slower than one a second: one at a time
    with pytest.raises(ValueError):
        bucket_shape(0)


async def test_pacer_scopes_are_separate() -> None:
    pacer = Pacer(rate_per_minute=600, customer_rate_per_minute=60, burst_seconds=1)
    await pacer.acquire("C1")
    assert not pacer._customer("c1").has_capacity()  # ids compare case-insensitively
    assert pacer._customer("c2").has_capacity()
    assert pacer._partner.has_capacity()  # partner bucket holds 10


async def test_pacer_forgets_least_recently_used_customers() -> None:
    pacer = Pacer(600, 6000, max_customers=2)
    for cid in ("a", "b", "a", "c"):  # "a" is used again after "b", so "b" is the one dropped
        await pacer.acquire(cid)
    assert pacer.tracked_customers == 2
    assert set(pacer._customers) == {"a", "c"}


@pytest.mark.parametrize(
    ("exc", "retry", "same_id"),
    [
        (Throttled("t", status=429), True, False),
        (ServerError("s", status=503), True, True),
        (ServerError("s", status=408), True, True),
        (TransportError("timeout"), True, True),
        (RestrictionError("r", code=Codes.NOT_READY, status=400), True, False),
        (RestrictionError("r", code=Codes.SUSPENDED_NOT_EDITABLE, status=400), False, False),
        (EtagMismatch("e", code=2055, status=400), False, False),
        (NotFound("n", status=404), False, False),
        (AuthError("a", status=401), False, False),
        (ValueError("bug"), False, False),
    ],
)
def test_retry_decisions(exc: BaseException, retry: bool, same_id: bool) -> None:
    assert is_retryable(exc) is retry
    assert reuses_request_id(exc) is same_id


def _state(exc: BaseException, attempt: int) -> RetryCallState:
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(exc), exc, None))
    return state


def test_wait_honours_retry_after_then_backs_off() -> None:
    policy = RetryPolicy(backoff_initial=1.0, backoff_max=8.0, jitter=0.0, max_retry_after=60)
    wait = wait_retry_after(policy)
    throttled = Throttled("t", status=429, retry_after=5)
    assert wait(_state(throttled, 1)) == pytest.approx(6.0)
    assert wait(_state(throttled, 3)) == pytest.approx(9.0)
    assert wait(_state(Throttled("t", retry_after=600), 1)) == pytest.approx(61.0)  # capped
    assert wait(_state(ServerError("s"), 2)) == pytest.approx(2.0)
    assert wait(_state(ServerError("s"), 9)) == pytest.approx(8.0)
