"""Invariants of evaluate() over generated ledgers, cases, notices and instants (hypothesis)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from _collections_builders import CAL, POLICY, SH, ev, issued, ledger, paid
from hypothesis import find, given, settings
from hypothesis import strategies as st

from shared.collections import (
    Approval,
    CollectionsCase,
    CustomerLedger,
    Decision,
    SentNotice,
    apply_event,
    evaluate,
)
from shared.collections.harm import harm_blockers

OPENED = dt.datetime(2026, 3, 2, 9, tzinfo=SH)
HARMFUL = [s.id for s in POLICY.stages if s.harmful]
amounts = st.integers(min_value=1, max_value=2_000_000).map(lambda c: f"{c / 100:.2f}")


@dataclass
class Inputs:
    ledger: CustomerLedger
    now: dt.datetime
    case: CollectionsCase | None
    notices: list[SentNotice]

    def decide(self, led: CustomerLedger | None = None) -> Decision:
        return evaluate(led or self.ledger, None, POLICY, CAL, self.now, self.notices, self.case)


@st.composite
def inputs(draw: st.DrawFn) -> Inputs:
    events = []
    n = draw(st.integers(1, 3))
    for i in range(n):
        due = dt.date(2026, 3, 1) + dt.timedelta(days=draw(st.integers(0, 200)))
        events.append(issued(f"i{i}", draw(amounts), due))
        if draw(st.integers(0, 3)) == 0:
            events.append(ev("invoice.disputed", invoice_id=f"i{i}", amount=draw(st.none() | amounts)))
    for p in range(draw(st.integers(0, 2))):
        events.append(
            paid(f"p{p}", draw(amounts), inv=draw(st.none() | st.sampled_from([f"i{i}" for i in range(n)])))
        )
    if draw(st.booleans()):
        events.append(ev("customer.updated", segment="strategic"))
    day = dt.date(2026, 4, 1) + dt.timedelta(days=draw(st.integers(0, 260)))
    now = dt.datetime.combine(
        day, dt.time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30, 59]))), tzinfo=SH
    )
    case = None
    if draw(st.integers(0, 4)) > 0:
        approvals = tuple(
            Approval(stage_id=s, approver="cfo", approved_at=OPENED) for s in HARMFUL if draw(st.booleans())
        )
        suspended = draw(st.sampled_from([None, None, "suspend_usage"]))
        case = CollectionsCase(
            case_id="k",
            customer_id="00000000-0000-4000-8000-0000000000c1",
            policy_version=POLICY.version,
            opened_at=OPENED,
            suspended_by_stage=suspended,
            approvals=approvals,
        )
    span = int((now - OPENED).total_seconds() // 3600)
    notices = [
        SentNotice(
            stage_id=draw(st.sampled_from(["overdue", "final_notice"])),
            sent_at=OPENED + dt.timedelta(hours=draw(st.integers(-24 * 30, span))),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    return Inputs(ledger(*events), now.astimezone(dt.UTC), case, notices)


def over_tolerance(d: Decision) -> bool:
    return any(a > POLICY.tolerance_for(c) for c, a in d.snapshot.overdue.items())


SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(inputs())
def test_suspension_only_with_overdue_balance_above_tolerance(x: Inputs) -> None:
    d = x.decide()
    if d.suspends:
        assert over_tolerance(d) and d.case is not None and d.case.closed_at is None


@SETTINGS
@given(inputs())
def test_no_harmful_action_on_holidays_eves_weekends_or_after_cutoff(x: Inputs) -> None:
    d = x.decide()
    if d.suspends:
        local = x.now.astimezone(SH)
        day = CAL.day(local.date())
        assert day.safe_for_harm and day.holiday is None and not CAL.is_holiday_eve(local.date())
        assert POLICY.calendar.harm_window_start <= local.time() < dt.time(16, 0)
        assert not (local.weekday() == 4 and local.time() >= dt.time(12, 0))
        assert harm_blockers(CAL, POLICY.calendar, local) == []


@SETTINGS
@given(inputs())
def test_suspension_never_without_notice_sent_n_days_before_within_the_case(x: Inputs) -> None:
    d = x.decide()
    for action in d.actions:
        if action.kind == "suspend":
            stage = POLICY.stage(action.stage_id or "")
            assert d.case is not None
            assert any(
                n.stage_id == stage.notice_stage
                and d.case.opened_at <= n.sent_at <= x.now - dt.timedelta(days=stage.requires_notice_days)
                for n in x.notices
            )


@SETTINGS
@given(inputs())
def test_re_evaluation_is_idempotent(x: Inputs) -> None:
    assert x.decide() == x.decide()


@SETTINGS
@given(inputs(), amounts, st.none() | st.sampled_from(["i0", "i1", "i2"]))
def test_more_payment_never_makes_the_decision_harsher(x: Inputs, amount: str, invoice: str | None) -> None:
    richer = apply_event(x.ledger, paid("extra", amount, inv=invoice))
    before, after = x.decide(), x.decide(richer)
    assert after.severity <= before.severity
    assert sum(after.snapshot.overdue.values(), Decimal(0)) <= sum(
        before.snapshot.overdue.values(), Decimal(0)
    )


@SETTINGS
@given(inputs(), st.sampled_from(["i0", "i1", "i2"]), st.none() | amounts)
def test_disputes_never_increase_severity(x: Inputs, invoice: str, amount: str | None) -> None:
    disputed = apply_event(x.ledger, ev("invoice.disputed", invoice_id=invoice, amount=amount))
    assert x.decide(disputed).severity <= x.decide().severity


def test_the_generator_reaches_suspensions_so_the_invariants_are_not_vacuous() -> None:
    found = find(inputs(), lambda x: x.decide().suspends, settings=settings(max_examples=5000, deadline=None))
    assert found.decide().suspends
