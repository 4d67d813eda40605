"""Pure parts of the sandbox: PATCH rules, the sliding window, seeded faults."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from devtools.sandbox.config import FaultConfig
from devtools.sandbox.faults import Faults
from devtools.sandbox.rules import Change, Refusal, SubView, plan_patch
from devtools.sandbox.throttle import SlidingWindow


def view(status: str = "active", kind: str = "license", **kw: object) -> SubView:
    base: dict[str, object] = dict(friendly_name="Office", quantity=5, auto_renew=True, offer_name="Office")
    base.update(kw)
    return SubView(status, kind, **base)  # type: ignore[arg-type]


def whole(status: str, **kw: object) -> dict[str, object]:
    return {"status": status, "friendlyName": "Office", "quantity": 5, "autoRenewEnabled": True, **kw}


def test_suspend_and_reactivate_a_whole_resource() -> None:
    out = plan_patch(view(), whole("suspended"), reset_omitted=True)
    assert isinstance(out, Change) and out.status == "suspended" and out.changed
    back = plan_patch(view("suspended"), whole("active"), reset_omitted=True)
    assert isinstance(back, Change) and back.status == "active"


def test_pascal_case_input_is_accepted() -> None:
    out = plan_patch(
        view(),
        {"Status": "suspended", "FriendlyName": "Office", "Quantity": 5, "AutoRenewEnabled": True},
        reset_omitted=True,
    )
    assert isinstance(out, Change) and out.status == "suspended"


def test_editing_a_suspended_subscription_is_800091() -> None:
    out = plan_patch(view("suspended"), whole("active", quantity=6), reset_omitted=True)
    assert isinstance(out, Refusal) and str(out.code) == "800091"


def test_partial_body_resets_fields_and_is_refused_on_a_suspended_subscription() -> None:
    out = plan_patch(view("suspended"), {"status": "active"}, reset_omitted=True)
    assert isinstance(out, Refusal) and str(out.code) == "800091"
    ok = plan_patch(view("suspended"), {"status": "active"}, reset_omitted=False)
    assert isinstance(ok, Change)


def test_addon_with_inactive_parent_is_27009() -> None:
    out = plan_patch(
        view("suspended", "addon", parent_status="suspended"), whole("active"), reset_omitted=True
    )
    assert isinstance(out, Refusal) and (out.status, out.code) == (409, 27009)


def test_azure_plan_with_active_azure_subscriptions_is_900115() -> None:
    out = plan_patch(
        view("active", "azure_plan", active_entitlements=2), whole("suspended"), reset_omitted=True
    )
    assert isinstance(out, Refusal) and out.status == 403 and str(out.code) == "900115"
    ok = plan_patch(
        view("active", "azure_plan", active_entitlements=0), whole("suspended"), reset_omitted=True
    )
    assert isinstance(ok, Change)


@given(
    st.sampled_from(["deleted", "expired", "disabled", "pending", "somethingNew"]),
    st.sampled_from(["active", "suspended"]),
)
def test_non_writable_statuses_are_always_refused(status: str, wanted: str) -> None:
    out = plan_patch(view(status), whole(wanted), reset_omitted=True)
    assert isinstance(out, Refusal)
    if status == "deleted":
        assert out.code == 2011


def test_sliding_window_allows_limit_then_says_how_long_to_wait() -> None:
    w = SlidingWindow()
    assert all(w.hit("p", 3, t) is None for t in (0.0, 10.0, 20.0))
    # This rejected call counts too, so the call at t=10 must leave the window first (t=70).
    assert w.hit("p", 3, 30.0) == 40
    assert w.hit("p", 3, 69.0) is not None and w.hit("p", 3, 200.0) is None
    lenient = SlidingWindow()
    for t in (0.0, 10.0, 20.0):
        lenient.hit("p", 3, t, count_rejected=False)
    assert lenient.hit("p", 3, 30.0, count_rejected=False) == 30  # the hit at t=0 leaves at t=60
    w2 = SlidingWindow()
    for t in (0.0, 10.0, 20.0):
        w2.hit("p", 3, t)
    assert w2.hit("p", 3, 61.0) is None  # one left the window


def test_rejected_hits_count_only_when_configured() -> None:
    counted, free = SlidingWindow(), SlidingWindow()
    for w, flag in ((counted, True), (free, False)):
        for t in (0.0, 1.0):
            w.hit("k", 2, t, count_rejected=flag)
        w.hit("k", 2, 50.0, count_rejected=flag)  # rejected
    assert counted.hit("k", 2, 60.5, count_rejected=True) is not None  # the retry at 50 still counts
    assert free.hit("k", 2, 60.5, count_rejected=False) is None


@given(st.integers(min_value=1, max_value=50), st.lists(st.floats(0, 300), min_size=1, max_size=200))
def test_never_more_than_limit_allowed_in_any_minute(limit: int, times: list[float]) -> None:
    w = SlidingWindow()
    allowed = [t for t in sorted(times) if w.hit("k", limit, t) is None]
    for t in allowed:
        assert sum(1 for u in allowed if t - 60 < u <= t) <= limit


def test_faults_are_deterministic_per_seed() -> None:
    cfg = FaultConfig(seed=3, error_rate=0.3, timeout_rate=0.1, storm_429=2)
    a, b = Faults(cfg), Faults(cfg)
    seq_a = [a.next() for _ in range(200)]
    assert seq_a == [b.next() for _ in range(200)]
    kinds = [f.kind for f in seq_a]
    assert kinds[:2] == ["storm_429", "storm_429"]
    assert 30 < kinds.count("error") < 90 and 5 < kinds.count("timeout") < 40
    assert {f.status for f in seq_a if f.kind == "error"} == {500, 503}
