"""Example tests of evaluate(): every stage of the shipped policy, every gate, cases, reactivation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from _collections_builders import CAL, POLICY, POLICY_TEXT, SH, ev, issued, ledger, local, paid

from shared.collections import (
    Approval,
    CollectionsCase,
    CustomerOverrides,
    Decision,
    Exemption,
    ManualHold,
    PolicyError,
    PromiseToPay,
    SentNotice,
    evaluate,
    parse_policy,
)
from shared.collections.harm import next_harm_window
from shared.domain import Money

C1 = "00000000-0000-4000-8000-0000000000c1"

DUE = dt.date(2026, 6, 1)  # a Monday
OPENED = local(2026, 6, 2, 1)
JUN = issued("jun", "5000", DUE)


def case(**kw: Any) -> CollectionsCase:
    return CollectionsCase(
        case_id="c1/case", customer_id=C1, policy_version=POLICY.version, opened_at=OPENED, **kw
    )


def notice(stage: str, when: dt.datetime) -> SentNotice:
    return SentNotice(stage_id=stage, sent_at=when)


FINAL_SENT = [notice("overdue", local(2026, 6, 2, 9)), notice("final_notice", local(2026, 6, 16, 9))]


def run(*events, now: dt.datetime, notices=(), kase=None, overrides=None, **kw) -> Decision:
    return evaluate(ledger(*events), overrides, POLICY, CAL, now, notices, kase, **kw)


def kinds(d: Decision) -> list[tuple[str, str | None]]:
    return [(a.kind, a.template if a.kind != "suspend" else a.stage_id) for a in d.actions]


def codes(d: Decision) -> set[str]:
    return {r.code for r in d.blocked_by}


def test_no_invoices_no_stage() -> None:
    d = run(now=local(2026, 6, 10))
    assert (d.stage, d.actions, d.case, d.next_review_at) == (None, (), None, None)


def test_reminder_before_due_then_not_repeated() -> None:
    d = run(JUN, now=local(2026, 5, 27))
    assert d.stage == "reminder" and kinds(d) == [("notify_customer", "reminder_before_due")]
    assert d.case is None and d.snapshot.days_past_due == -5
    assert d.next_review_at == dt.datetime(2026, 6, 2, tzinfo=SH)  # when the overdue stage starts
    again = run(JUN, now=local(2026, 5, 28), notices=[notice("reminder", local(2026, 5, 27, 10))])
    assert again.actions == () and {r.code for r in again.reasons} >= {"notice_already_sent"}


def test_day_after_due_opens_a_case_and_sends_the_overdue_reminder() -> None:
    d = run(JUN, now=local(2026, 6, 2))
    assert d.case_change == "opened" and d.case is not None and d.case.policy_version == POLICY.version
    assert d.stage == "overdue" and kinds(d) == [("notify_customer", "overdue_reminder")]
    assert d.snapshot.overdue == {"CNY": Decimal(5000)} and d.snapshot.oldest_unpaid_due == DUE
    assert run(JUN, now=local(2026, 6, 1, 23, 59)).case is None  # due today is not overdue


def test_balance_within_tolerance_opens_nothing() -> None:
    d = run(JUN, paid("p", "4990.00"), now=local(2026, 7, 20))
    assert (d.stage, d.case, d.actions) == (None, None, ())


def test_final_notice_notifies_customer_and_team() -> None:
    d = run(JUN, now=local(2026, 6, 16), notices=FINAL_SENT[:1], kase=case())
    assert d.stage == "final_notice"
    assert kinds(d) == [("notify_customer", "final_notice"), ("notify_team", None)]


def test_suspension_runs_when_every_gate_passes() -> None:
    d = run(JUN, now=local(2026, 7, 1), notices=FINAL_SENT, kase=case())
    assert d.stage == "suspend_usage" and d.blocked_by == ()
    assert kinds(d)[0] == ("suspend", "suspend_usage")
    assert d.actions[0].scope is not None and d.actions[0].scope.subscription_kinds == ("azure_plan",)
    assert ("notify_customer", "suspension_done") in kinds(d)
    assert d.next_review_at == dt.datetime(2026, 7, 16, tzinfo=SH)  # suspend_all threshold


def test_suspension_without_notice_sends_the_notice_first() -> None:
    d = run(JUN, now=local(2026, 7, 1), notices=FINAL_SENT[:1], kase=case())
    assert codes(d) == {"notice_not_sent"} and not d.suspends
    assert ("notify_customer", "final_notice") in kinds(d)


def test_notice_sent_in_a_previous_case_does_not_count() -> None:
    old = [notice("final_notice", local(2026, 5, 1))]
    d = run(JUN, now=local(2026, 7, 1), notices=old, kase=case())
    assert "notice_not_sent" in codes(d) and not d.suspends


def test_notice_too_recent_waits_until_n_days_have_passed() -> None:
    sent = local(2026, 6, 28, 11)
    d = run(JUN, now=local(2026, 7, 1), notices=[notice("final_notice", sent)], kase=case())
    assert codes(d) == {"notice_too_recent"} and not d.suspends
    assert d.next_review_at == sent + dt.timedelta(days=7)


@pytest.mark.parametrize(
    ("now", "code", "next_window"),
    [
        (local(2026, 7, 1, 16, 30), "after_cutoff", local(2026, 7, 2, 9)),
        (local(2026, 7, 1, 7, 0), "before_window", local(2026, 7, 1, 9)),
        (local(2026, 7, 3, 13, 0), "friday_afternoon", local(2026, 7, 6, 9)),
        (local(2026, 7, 4, 10, 0), "non_working_day", local(2026, 7, 6, 9)),
    ],
)
def test_calendar_gates(now: dt.datetime, code: str, next_window: dt.datetime) -> None:
    d = run(JUN, now=now, notices=FINAL_SENT, kase=case())
    assert code in codes(d) and not d.suspends
    assert d.next_review_at == next_window


def test_no_suspension_on_a_holiday_eve() -> None:
    inv = issued("aug", "5000", dt.date(2026, 8, 20))
    k = CollectionsCase(
        case_id="k", customer_id=C1, policy_version=POLICY.version, opened_at=local(2026, 8, 21)
    )
    sent = [notice("final_notice", local(2026, 9, 5))]
    d = evaluate(ledger(inv), None, POLICY, CAL, local(2026, 9, 30, 10), sent, k)
    assert d.stage == "suspend_usage" and "holiday_eve" in codes(d) and not d.suspends
    assert d.next_review_at == dt.datetime(2026, 10, 4, tzinfo=SH)  # suspend_all threshold comes first
    window = next_harm_window(CAL, POLICY.calendar, local(2026, 9, 30, 10))
    assert (
        window is not None and window.date() > dt.date(2026, 10, 7) and CAL.day(window.date()).safe_for_harm
    )


def test_doubtful_year_blocks_harm_and_says_why() -> None:
    inv = issued("jan27", "5000", dt.date(2027, 1, 4))
    k = CollectionsCase(
        case_id="k", customer_id=C1, policy_version=POLICY.version, opened_at=local(2027, 1, 5)
    )
    d = evaluate(
        ledger(inv),
        None,
        POLICY,
        CAL,
        local(2027, 2, 24, 10),
        [notice("final_notice", local(2027, 1, 20))],
        k,
    )
    assert "calendar_doubtful" in codes(d) and not d.suspends
    assert any("without official holiday data" in r.text for r in d.blocked_by)


def test_approval_required_for_strategic_customers() -> None:
    strategic = ev("customer.updated", segment="strategic")
    d = run(JUN, strategic, now=local(2026, 7, 1), notices=FINAL_SENT, kase=case())
    assert codes(d) == {"approval_required"} and not d.suspends
    assert [a.kind for a in d.pending_approval] == ["suspend"]
    approved = case(
        approvals=(Approval(stage_id="suspend_usage", approver="cfo", approved_at=local(2026, 6, 30)),)
    )
    assert run(JUN, strategic, now=local(2026, 7, 1), notices=FINAL_SENT, kase=approved).suspends


def test_suspend_all_always_needs_approval_and_widens_scope_once_approved() -> None:
    k = case(suspended_by_stage="suspend_usage")
    d = run(JUN, now=local(2026, 7, 16), notices=FINAL_SENT, kase=k)
    assert d.stage == "suspend_all" and codes(d) == {"approval_required"}
    ok = case(
        suspended_by_stage="suspend_usage",
        approvals=(Approval(stage_id="suspend_all", approver="cfo", approved_at=local(2026, 7, 15)),),
    )
    d = run(JUN, now=local(2026, 7, 16), notices=FINAL_SENT, kase=ok)
    assert (
        d.actions[0].kind == "suspend" and d.actions[0].scope is not None and d.actions[0].scope.kind == "all"
    )


def test_already_suspended_is_not_suspended_again() -> None:
    d = run(JUN, now=local(2026, 7, 2), notices=FINAL_SENT, kase=case(suspended_by_stage="suspend_usage"))
    assert d.actions == () and "already_suspended" in {r.code for r in d.reasons}


@pytest.mark.parametrize(
    ("overrides", "extra_events", "code"),
    [
        (
            CustomerOverrides(
                exemptions=(
                    Exemption(
                        reason="board decision",
                        approver="cfo",
                        starts_on=dt.date(2026, 6, 1),
                        expires_on=dt.date(2026, 7, 31),
                    ),
                )
            ),
            (),
            "exempt",
        ),
        (
            CustomerOverrides(holds=(ManualHold(reason="audit", set_by="ops", until=dt.date(2026, 7, 3)),)),
            (),
            "manual_hold",
        ),
        (None, (ev("payment.in_transit", reference="SWIFT123", hold_until="2026-07-05"),), "in_transit"),
        (
            CustomerOverrides(
                promises=(
                    PromiseToPay(
                        promise_id="pp1",
                        amount=Money.of("5000", "CNY"),
                        promised_date=dt.date(2026, 7, 2),
                        made_at=local(2026, 6, 30),
                        recorded_by="ops",
                    ),
                )
            ),
            (),
            "promise_to_pay",
        ),
    ],
)
def test_overrides_block_suspension(overrides, extra_events, code) -> None:
    d = run(JUN, *extra_events, now=local(2026, 7, 1), notices=FINAL_SENT, kase=case(), overrides=overrides)
    assert code in codes(d) and not d.suspends
    assert d.next_review_at is not None


def test_exemption_blocks_notices_too_and_reactivates() -> None:
    ex = CustomerOverrides(
        exemptions=(
            Exemption(
                reason="x", approver="y", starts_on=dt.date(2026, 6, 1), expires_on=dt.date(2026, 7, 31)
            ),
        )
    )
    d = run(JUN, now=local(2026, 6, 16), kase=case(suspended_by_stage="suspend_usage"), overrides=ex)
    assert [a.kind for a in d.actions] == ["reactivate"] and "exempt" in codes(d)


def test_broken_promise_no_longer_blocks_and_is_reported() -> None:
    promise = PromiseToPay(
        promise_id="pp1",
        amount=Money.of("5000", "CNY"),
        promised_date=dt.date(2026, 6, 25),
        grace_days=2,
        made_at=local(2026, 6, 20),
        recorded_by="ops",
    )
    d = run(
        JUN,
        paid("p", "100", local(2026, 6, 24)),
        now=local(2026, 7, 1),
        notices=FINAL_SENT,
        kase=case(),
        overrides=CustomerOverrides(promises=(promise,)),
    )
    assert d.suspends and "promise_broken" in {r.code for r in d.reasons}


def test_payment_clears_the_case_and_reactivates() -> None:
    k = case(suspended_by_stage="suspend_usage")
    d = run(JUN, paid("p", "5000", local(2026, 7, 3)), now=local(2026, 7, 3, 12), notices=FINAL_SENT, kase=k)
    assert [a.kind for a in d.actions] == ["reactivate"]
    assert d.case_change == "closed" and d.case is not None and d.case.closed_at is not None


def test_partial_payment_below_the_suspension_threshold_reactivates_but_keeps_the_case() -> None:
    k = case(suspended_by_stage="suspend_usage")
    d = run(JUN, paid("p", "4500"), now=local(2026, 7, 3, 12), notices=FINAL_SENT, kase=k)
    assert d.stage == "final_notice" and [a.kind for a in d.actions] == ["reactivate"]
    assert d.case_change is None and d.case == k


def test_fully_disputed_invoice_is_not_collected() -> None:
    d = run(JUN, ev("invoice.disputed", invoice_id="jun"), now=local(2026, 7, 20))
    assert (d.stage, d.case) == (None, None) and d.snapshot.disputed == {"CNY": Decimal(5000)}


def test_partial_payment_reanchors_so_no_stage_is_skipped() -> None:
    a, b = issued("a", "1000", DUE), issued("b", "5000", dt.date(2026, 6, 20))
    k = case()
    before = run(a, b, now=local(2026, 6, 25), notices=FINAL_SENT[:1], kase=k)
    assert before.stage == "final_notice" and before.next_review_at == dt.datetime(2026, 7, 1, tzinfo=SH)
    after = run(a, b, paid("p", "1000", inv="a"), now=local(2026, 6, 25), notices=FINAL_SENT[:1], kase=k)
    assert after.stage == "overdue" and after.snapshot.oldest_unpaid_due == dt.date(2026, 6, 20)
    assert after.next_review_at == dt.datetime(
        2026, 7, 5, tzinfo=SH
    )  # b's final-notice day, not a's suspension
    at_review = run(
        a, b, paid("p", "1000", inv="a"), now=after.next_review_at, notices=FINAL_SENT[:1], kase=k
    )
    assert at_review.severity == after.severity + 1


def test_late_committed_old_invoice_gets_notice_before_any_suspension() -> None:
    d = run(JUN, now=local(2026, 8, 5))
    assert d.stage == "suspend_all" and d.case_change == "opened" and not d.suspends
    assert "notice_not_sent" in codes(d) and ("notify_customer", "final_notice") in kinds(d)


def test_exposure_trigger_uses_unbilled_consumption() -> None:
    text = POLICY_TEXT.replace(
        "  - id: overdue\n",
        "  - id: exposure_watch\n    name: {en: Credit watch, zh-CN: 信用关注}\n"
        '    trigger: {exposure_ratio: "0.8"}\n'
        "    actions: [{type: notify_team, template: exposure}]\n  - id: overdue\n",
    )
    policy = parse_policy(text)
    led = ledger(
        JUN, paid("p", "4500"), ev("customer.updated", credit_limit={"amount": "1000", "currency": "CNY"})
    )
    now = local(2026, 5, 28)  # nothing overdue yet: exposure is unbilled usage only
    quiet = evaluate(led, None, policy, CAL, now, unbilled=Money.of("700", "CNY"))
    loud = evaluate(led, None, policy, CAL, now, unbilled=Money.of("900", "CNY"))
    assert quiet.stage == "reminder" and loud.stage == "exposure_watch"
    assert loud.snapshot.exposure == Money.of("900", "CNY") and loud.snapshot.exposure_ratio == Decimal("0.9")


def test_case_under_another_policy_version_is_refused() -> None:
    k = CollectionsCase(case_id="k", customer_id=C1, policy_version="2025-old", opened_at=OPENED)
    with pytest.raises(PolicyError, match="2025-old"):
        run(JUN, now=local(2026, 7, 1), kase=k)
    with pytest.raises(ValueError, match="timezone-aware"):
        run(JUN, now=dt.datetime(2026, 7, 1))


def test_decision_serializes_with_string_amounts_and_stable_fingerprint() -> None:
    d = run(JUN, now=local(2026, 7, 1), notices=FINAL_SENT, kase=case())
    js = d.model_dump_json()
    assert '"overdue":{"CNY":"5000"}' in js and d.fingerprint in js
    assert Decision.model_validate_json(js) == d
    other = run(JUN, paid("p", "1"), now=local(2026, 7, 1), notices=FINAL_SENT, kase=case())
    assert other.fingerprint != d.fingerprint
