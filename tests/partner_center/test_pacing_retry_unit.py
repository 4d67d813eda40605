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
from shared.partner_center._pacing import Pacer, reserve, schedule
from shared.partner_center._retry import is_retryable, reuses_request_id, wait_retry_after


@given(
    st.floats(min_value=1, max_value=100_000),
    st.floats(min_value=0.1, max_value=5),
    st.lists(st.floats(min_value=0, max_value=10), min_size=1, max_size=300),
    st.floats(min_value=0.5, max_value=20),
)
def test_reservations_never_exceed_rate_plus_burst(
    rate: float, burst_seconds: float, gaps: list[float], window: float
) -> None:
    plan = schedule(rate, burst_seconds)
    tat, now, starts = float("-inf"), 0.0, []
    for gap in sorted(gaps):
        now = max(now, gap)
        tat, start = reserve(tat, now, plan)
        assert start >= now
        starts.append(start)
    starts.sort()
    limit = window / plan.interval + plan.burst + 1e-6
    for i, first in enumerate(starts):
        inside = sum(1 for s in starts[i:] if s < first + window)
        assert inside <= limit


def test_steady_pace_after_the_burst() -> None:
    plan = schedule(600, burst_seconds=1.0)  # 10 a second, burst of 10
    tat, starts = float("-inf"), []
    for _ in range(30):
        tat, start = reserve(tat, 0.0, plan)
        starts.append(start)
    assert starts[:10] == [0.0] * 10
    assert starts[10:13] == pytest.approx([0.1, 0.2, 0.3])
    assert starts[-1] == pytest.approx(2.0)
    with pytest.raises(ValueError):
        schedule(0)


def test_pacer_scopes_are_separate() -> None:
    now = [0.0]
    pacer = Pacer(rate_per_minute=6000, customer_rate_per_minute=60, burst_seconds=1, clock=lambda: now[0])
    assert pacer.reserve("C1") == 0.0
    assert pacer.reserve("c1") == pytest.approx(1.0)  # ids compare case-insensitively; 1 a second
    assert pacer.reserve("c2") == 0.0
    assert pacer.reserve(None) == 0.0  # the partner burst holds 100


async def test_pacer_sleeps_the_reserved_delay() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    pacer = Pacer(60, 60, burst_seconds=1, clock=lambda: 5.0, sleep=sleep)
    await pacer.acquire("a")
    await pacer.acquire("a")
    assert slept == [pytest.approx(1.0)]


def test_pacer_forgets_least_recently_used_customers() -> None:
    pacer = Pacer(6000, 6000, max_customers=2, clock=lambda: 0.0)
    for cid in ("a", "b", "a", "c"):  # "a" is used again after "b", so "b" is the one dropped
        pacer.reserve(cid)
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
