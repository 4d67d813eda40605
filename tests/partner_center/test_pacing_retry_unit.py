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
from shared.partner_center._retry import is_retryable, reuses_request_id, stop_retrying, wait_backoff
from shared.partner_center._scope import Adaptation, Scope, reserve, schedule


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


def test_scope_cuts_once_per_episode_to_what_was_accepted() -> None:
    scope = Scope(ceiling=600)
    for k in range(120):  # 120 sends in the last minute
        scope.take(k * 0.5)
    assert scope.rate(60) == 600
    assert scope.throttled(60.0, 3, granted_at=59.5)  # cut: 0.95 * 120 is below half of 600
    assert scope.rate(60) == 300 and scope.blocked_until == 63.0
    assert not scope.throttled(60.1, 5, granted_at=59.9)  # granted before the cut: an echo, no new cut
    assert scope.rate(60.1) == 300 and scope.blocked_until == pytest.approx(65.1)
    assert scope.ready_at(61) == pytest.approx(65.1)  # blocked until Retry-After, no burst after
    before = scope.rate(70)
    assert scope.throttled(70, 1, granted_at=66)  # granted after the cut: it was not enough
    assert scope.rate(70) == pytest.approx(before / 2)  # at most halved per episode
    assert scope.cuts == 2 and scope.throttles == 3


def test_scope_recovers_additively_to_the_ceiling() -> None:
    scope = Scope(ceiling=1000, adapt=Adaptation(recovery=0.1, min_recovery=0.0))
    scope.take(0)
    scope.throttled(0, 10, granted_at=0)
    low = scope.rate(10)
    assert low == 500
    assert scope.rate(70) == pytest.approx(550)  # +10 % of the post-cut rate per minute, from the unblock
    assert scope.rate(10_000) == 1000


def test_scope_floor_and_missing_retry_after() -> None:
    scope = Scope(ceiling=10, adapt=Adaptation(max_cut=0.0))
    scope.throttled(0, None, granted_at=0)
    assert scope.blocked_until == 1.0  # default Retry-After
    assert scope.rate(0) == 1.0  # never below the floor


@pytest.mark.parametrize(
    ("exc", "retry", "same_id"),
    [
        (Throttled("t", status=429), True, False),
        (ServerError("s", status=503), True, False),  # an answer came: a new MS-RequestId
        (ServerError("s", status=408), True, False),
        (TransportError("timeout", timed_out=True), True, True),
        (TransportError("refused"), True, False),
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


def test_wait_leaves_429s_to_the_pacer_and_backs_off_otherwise() -> None:
    policy = RetryPolicy(backoff_initial=1.0, backoff_max=8.0, jitter=0.0)
    wait = wait_backoff(policy)
    assert wait(_state(Throttled("t", status=429, retry_after=5), 1)) == 0.0
    assert wait(_state(ServerError("s"), 2)) == pytest.approx(2.0)
    assert wait(_state(ServerError("s"), 9)) == pytest.approx(8.0)


def test_stop_counts_failures_but_only_time_for_429s() -> None:
    now = [0.0]
    stop = stop_retrying(RetryPolicy(max_attempts=2, max_throttled_seconds=100), clock=lambda: now[0])
    throttled = _state(Throttled("t", status=429), 1)
    assert not any(stop(throttled) for _ in range(50))
    assert not stop(_state(ServerError("s"), 51))
    now[0] = 100.0
    assert stop(throttled)
    assert stop(_state(ServerError("s"), 53))  # the second non-429 failure
