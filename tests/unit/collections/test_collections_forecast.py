"""The forecast engine: predicted notices make later suspensions possible, the calendar and the sweep's guards
refuse, and the incremental simulation equals evaluating everyone every day."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from shared.collections.forecast import Guards, at_sweep_time, forecast, sweep_moments, sweep_time
from tests.unit.collections._collections_builders import CAL, POLICY, SH, issued, ledger, paid

START = datetime(2026, 7, 1, 0, 30, tzinfo=UTC)  # Wednesday 08:30 Beijing; the sweep runs at 09:00
MOMENTS = sweep_moments("0 0 1 * * *", START, 30)
OPEN = Guards(max_suspensions_per_run=20, max_suspension_share=1.0)


def g(name: str) -> str:
    """A tenant GUID for a short test name (customer ids are GUIDs at the ingress)."""
    return f"00000000-0000-4000-8000-{name.encode().hex():0>12}"


def overdue(name: str, days_past_due: int, amount: str = "5000.00"):  # type: ignore[no-untyped-def]
    cid = g(name)
    return ledger(issued(f"I-{cid}", amount, date(2026, 7, 1) - timedelta(days=days_past_due), cid=cid), cid=cid)


def test_the_predicted_final_notice_opens_the_way_to_a_suspension_on_the_first_working_day() -> None:
    days = forecast([overdue("c1", 20)], POLICY, CAL, MOMENTS, OPEN)
    assert days[0].date == date(2026, 7, 1) and days[0].at.astimezone(SH).hour == 9
    assert [i.customer_id for i in days[0].notices["final_notice"]] == [g("c1")]
    suspended = [d.date for d in days if d.suspended]
    # 30 days past due on Saturday 11 July (notice sent 10 days earlier): the calendar refuses the weekend
    assert suspended == [date(2026, 7, 13)]
    weekend = [d for d in days if d.date in (date(2026, 7, 11), date(2026, 7, 12))]
    assert all(d.refused and d.refused[0].customer_id == g("c1") for d in weekend)
    # the suspension notice goes out with the suspension, not with a refused one
    assert [d.date for d in days if "suspend_usage" in d.notices] == [date(2026, 7, 13)]
    assert days[12].overdue_total(days[12].suspended) == {"CNY": "5000.00"}
    # suspend_all (45 days) needs approval: refused as approval_required, never suspended by the forecast
    later = [r for d in days if d.date >= date(2026, 7, 27) for r in d.refused]
    assert later and all("approval_required" in r.reasons for r in later)


def test_a_notice_sent_today_holds_the_suspension_for_its_notice_period() -> None:
    days = forecast([overdue("c2", 29)], POLICY, CAL, MOMENTS, OPEN)
    assert "final_notice" in days[0].notices
    first = next(d for d in days if d.suspended)
    assert first.date == date(2026, 7, 8)  # Wednesday: 7 days after the predicted notice


def test_blast_radius_halts_the_day_and_stale_feed_refuses_every_suspension() -> None:
    portfolio = [overdue(f"b{i}", 35) for i in range(3)]
    from shared.collections import SentNotice

    notices = {g(f"b{i}"): [SentNotice(stage_id="final_notice", sent_at=START - timedelta(days=10))] for i in range(3)}
    from shared.collections import CollectionsCase

    cases = {g(f"b{i}"): CollectionsCase(case_id=f"b{i}/k", customer_id=g(f"b{i}"), policy_version=POLICY.version,
                                      opened_at=START - timedelta(days=11)) for i in range(3)}
    halted = forecast(portfolio, POLICY, CAL, MOMENTS[:2], Guards(max_suspensions_per_run=2, max_suspension_share=1),
                      notices=notices, cases=cases)
    assert all(d.halted and "would suspend 3 of 3" in d.halted for d in halted)
    assert [len(d.refused) for d in halted] == [3, 3] and not any(d.suspended for d in halted)
    assert all("blast_radius" in r.reasons for d in halted for r in d.refused)
    assert not any(d.notices for d in halted)  # nobody is told of a suspension that did not happen
    stale = forecast(portfolio, POLICY, CAL, MOMENTS[:1], OPEN.model_copy(update={"feed_problem": "silent"}),
                     notices=notices, cases=cases)
    assert not stale[0].suspended and {r.reasons for r in stale[0].refused} == {("stale_feed",)}


def test_incremental_forecast_equals_evaluating_everyone_every_day() -> None:
    rnd = random.Random(3)
    portfolio = []
    for i in range(300):
        cid = g(f"r{i:03d}")
        due = date(2026, 7, 1) - timedelta(days=rnd.randint(-25, 50))
        events = [issued(f"I{cid}", str(rnd.randint(500, 90000)), due, cid=cid)]
        if rnd.random() < 0.5:
            events.append(paid(f"P{cid}", str(rnd.randint(100, 90000)), cid=cid))
        portfolio.append(ledger(*events, cid=cid))

    def view(days):  # type: ignore[no-untyped-def]
        return [(d.date, {k: [i.customer_id for i in v] for k, v in d.notices.items()},
                 [i.customer_id for i in d.suspended], sorted((i.customer_id, i.reasons) for i in d.refused),
                 d.halted) for d in days]

    guards = Guards(max_suspensions_per_run=10_000, max_suspension_share=1.0)
    fast = forecast(portfolio, POLICY, CAL, MOMENTS, guards)
    slow = forecast(portfolio, POLICY, CAL, MOMENTS, guards, every_day=True)
    assert view(fast) == view(slow)
    assert sum(d.evaluated for d in fast) < 0.6 * sum(d.evaluated for d in slow)  # a harsh mix: most in arrears
    assert any(d.suspended for d in fast) and any(d.notices for d in fast)


def test_a_date_means_that_days_sweep_at_the_sweeps_time() -> None:
    assert sweep_time("0 0 1 * * *").hour == 1
    at = at_sweep_time(date(2026, 12, 20), "0 0 1 * * *", SH)
    assert at == datetime(2026, 12, 20, 1, 0, tzinfo=UTC)  # 09:00 in Beijing, before the 16:00 cut-off
    late = at_sweep_time(date(2026, 12, 20), "0 0 20 * * *", SH)  # 20:00 UTC is 04:00 the next Beijing day
    assert late.astimezone(SH).date() == date(2026, 12, 20)
    assert sweep_moments("0 0 1 * * *", datetime(2026, 12, 1, 1, 0, tzinfo=UTC), 2)[0].day == 2
