"""Cases: one per incident, timeline, containment, resolution, response time, evidence pack."""

from __future__ import annotations

from datetime import timedelta

import pytest
from _fraud_builders import GPU, RULES, history, line, morning_after, steady

from shared.fraud import (
    CaseError,
    CaseStatus,
    Outcome,
    assess,
    containment_plan,
    evidence_pack,
    open_or_update,
    record_action,
    record_containment,
    render_markdown,
    resolve,
)


def _assessment(spike: float, day: int = 42, gpu_day: int | None = None):
    lines = [
        *steady("c1", range(day)),
        line("c1", "c1-s1", day, spike),
        *steady("c1", range(day), 50, "c1-s2"),
    ]
    if gpu_day is not None:
        lines.append(line("c1", "c1-s2", gpu_day, 900, meter=GPU))
    h = history(lines)
    return next(a for a in assess(h, {}, RULES, morning_after(gpu_day or day)) if a.customer_id == "c1")


def test_nothing_actionable_opens_no_case() -> None:
    case, changes = open_or_update(None, _assessment(150), morning_after(42))
    assert case is None and changes == []


def test_an_open_case_absorbs_new_signals_without_duplicates() -> None:
    now = morning_after(42)
    a = _assessment(1200)
    case, changes = open_or_update(None, a, now)
    assert case is not None and case.status is CaseStatus.OPEN and [c.kind for c in changes] == ["opened"]
    same, changes = open_or_update(case, a, now + timedelta(hours=1))
    assert same == case and changes == []  # the same incident seen again
    bigger = _assessment(6000)
    grown, changes = open_or_update(case, bigger, now + timedelta(hours=2))
    assert grown is not None and grown.case_id == case.case_id
    assert {c.kind for c in changes} == {"signal_added", "outcome_raised"}
    assert grown.outcome is Outcome.CONTAIN and grown.requires_approval
    # the contain hit is new; the review hit for the same day is the same observation, not a new signal
    assert [e.rule_id for e in grown.timeline if e.kind == "signal"] == ["spike.review", "spike.contain"]


def test_containment_suspends_for_fraud_investigation_and_legitimate_resolution_reactivates() -> None:
    now = morning_after(42)
    case, _ = open_or_update(None, _assessment(6000), now)
    assert case is not None
    plan = containment_plan(case, ["c1-s1", "c1-s2"])
    # the spike names the subscription responsible: containment targets exactly it
    assert not plan.customer_wide and [o.subscription_id for o in plan.orders] == ["c1-s1"]
    assert all(o.reason == "fraud investigation" and o.lifted_by_payment is False for o in plan.orders)
    assert plan.requires_approval
    contained = record_containment(case, ["c1-s1", "c1-s2"], now + timedelta(minutes=40), by="ops@partner")
    assert contained.status is CaseStatus.INVESTIGATING
    assert contained.response_time == timedelta(minutes=40) and contained.within_guidance(now)
    assert containment_plan(contained, ["c1-s1", "c1-s2"]).orders == ()  # already suspended
    closed, reactivation = resolve(contained, "legitimate", now + timedelta(days=1), by="ops@partner")
    assert closed.status is CaseStatus.RESOLVED_LEGITIMATE and closed.label == "legitimate"
    assert reactivation.subscription_ids == ("c1-s1", "c1-s2")
    with pytest.raises(CaseError):
        record_action(closed, "too late", now + timedelta(days=2))


def test_fraud_resolution_keeps_suspensions_and_a_new_incident_opens_a_new_case() -> None:
    now = morning_after(42)
    case, _ = open_or_update(None, _assessment(6000), now)
    assert case is not None
    case = record_containment(case, ["c1-s1"], now + timedelta(hours=2))
    assert not case.within_guidance(now)  # first action after two hours
    closed, reactivation = resolve(case, "fraud", now + timedelta(days=1), by="ops")
    assert reactivation.subscription_ids == () and closed.suspended == ("c1-s1",)
    # the same signal re-read after resolution does not reopen anything
    again, changes = open_or_update(closed, _assessment(6000), now + timedelta(days=1, hours=1))
    assert again == closed and changes == []
    later = _assessment(6000, gpu_day=50)
    new_case, changes = open_or_update(closed, later, morning_after(50))
    assert new_case is not None and new_case.case_id != closed.case_id and changes[0].kind == "opened"


def test_containment_plan_targets_the_subscriptions_named_by_containing_signals() -> None:
    h = history(steady("blocked", range(10)), steady("blocked", range(10), sub="blocked-s2"))
    a = next(x for x in assess(h, {}, RULES, morning_after(9)) if x.customer_id == "blocked")
    case, _ = open_or_update(None, a, morning_after(9))
    assert case is not None and case.outcome is Outcome.CONTAIN
    assert "block list" in case.timeline[0].text
    plan = containment_plan(case, ["blocked-s1", "blocked-s2"])
    assert plan.customer_wide and len(plan.orders) == 2


def test_evidence_pack_lists_signals_with_figures_and_timestamped_actions() -> None:
    now = morning_after(42)
    case, _ = open_or_update(None, _assessment(6000), now)
    assert case is not None
    case = record_containment(case, ["c1-s1"], now + timedelta(minutes=30), by="ops@partner")
    case = record_action(
        case,
        "asked the customer's admins to reset credentials and enforce MFA",
        now + timedelta(minutes=35),
        by="ops@partner",
    )
    pack = evidence_pack(case, now + timedelta(hours=1), customer_name="Contoso")
    assert pack.suspended == ("c1-s1",) and pack.response_time_minutes == 30.0
    assert {s.detector.value for s in pack.signals} == {"spend_spike"} and len(pack.actions) == 2
    text = render_markdown(pack)
    assert "# Suspected misuse: customer c1 (Contoso)" in text
    assert "ratio=40.0" in text and "reset credentials" in text and "suspended 1 subscription(s)" in text


def test_block_listed_customer_is_not_reopened_every_scan_after_resolution() -> None:
    h = history(steady("blocked", range(10)))
    first = next(x for x in assess(h, {}, RULES, morning_after(9)) if x.customer_id == "blocked")
    case, _ = open_or_update(None, first, morning_after(9))
    assert case is not None
    closed, _ = resolve(case, "legitimate", morning_after(9) + timedelta(hours=2), by="ops")
    again = next(x for x in assess(h, {}, RULES, morning_after(9) + timedelta(hours=3)) if x.customer_id == "blocked")
    assert again.listed == "block"
    still, changes = open_or_update(closed, again, morning_after(9) + timedelta(hours=3))
    assert still == closed and changes == []
