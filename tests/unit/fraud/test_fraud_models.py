"""Usage line parsing and the incremental aggregator (idempotent under re-delivery)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from _fraud_builders import GPU, d, line
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.fraud import History, UsageLine, aggregate


def test_usage_line_accepts_partner_center_camel_case_and_keeps_extra_fields() -> None:
    u = UsageLine.model_validate(
        {
            "customerId": "c1",
            "subscriptionId": "s1",
            "meterCategory": "Virtual Machines",
            "meterId": "m-42",
            "resourceLocation": "ChinaNorth2",
            "usageDate": "2026-09-03T00:00:00Z",
            "billingPreTaxTotal": "12.50",
            "pricingCurrency": "CNY",
            "unitOfMeasure": "1 Hour",
        }
    )
    assert u.usage_date == date(2026, 9, 3)
    assert u.billing_pre_tax_total == Decimal("12.50")
    assert u.model_extra == {"meterId": "m-42", "unitOfMeasure": "1 Hour"}
    assert u.meter_key.startswith("m-42|chinanorth2")


def test_aggregate_breaks_down_by_category_and_region_per_subscription_and_customer() -> None:
    h = aggregate(
        [
            line("c1", "s1", 0, 10),
            line("c1", "s1", 0, 5, meter=GPU, region="chinaeast2"),
            line("c1", "s2", 0, 7),
        ]
    )
    series = h.customers["c1"]
    day = series.daily[d(0)]
    assert day.total == Decimal(22)
    assert day.by_region == {"chinanorth2": Decimal(17), "chinaeast2": Decimal(5)}
    assert day.by_category == {"Virtual Machines": Decimal(22)}
    assert series.subscriptions["s1"][d(0)].total == Decimal(15)
    assert series.subscriptions["s2"][d(0)].total == Decimal(7)


def test_a_revised_line_replaces_the_earlier_read_and_the_input_history_is_untouched() -> None:
    first = aggregate([line("c1", "s1", 0, 10), line("c1", "s1", 0, 4, meter=GPU)])
    revised = aggregate([line("c1", "s1", 0, 12)], first)
    assert revised.customers["c1"].daily[d(0)].total == Decimal(16)
    assert first.customers["c1"].daily[d(0)].total == Decimal(14)


lines_strategy = st.lists(
    st.builds(
        lambda c, s, n, a, gpu: line(f"c{c}", f"c{c}-s{s}", n, a, meter=GPU if gpu else ("VM", "D", "D4")),
        st.integers(0, 2),
        st.integers(0, 2),
        st.integers(0, 4),
        st.decimals(min_value=0, max_value=1000, places=2),
        st.booleans(),
    ),
    max_size=30,
)


def _totals(h: History) -> dict[tuple[str, date], Decimal]:
    return {(c, day): s.total for c, series in h.customers.items() for day, s in series.daily.items()}


@settings(max_examples=60, deadline=None)
@given(lines=lines_strategy, cut=st.integers(0, 30))
def test_redelivering_days_never_changes_the_result(lines: list[UsageLine], cut: int) -> None:
    once = aggregate(lines)
    # the same lines delivered in two batches, then the whole set re-read (what a daily re-scan does)
    twice = aggregate(lines, aggregate(lines[cut:], aggregate(lines[:cut])))
    assert _totals(twice) == _totals(once)
    # and the totals are the sum of the last read of each (subscription, day, meter)
    last: dict[tuple[str, str, date, str], Decimal] = {}
    for u in lines:
        last[(u.customer_id, u.subscription_id, u.usage_date, u.meter_key)] = u.billing_pre_tax_total
    expected: dict[tuple[str, date], Decimal] = {}
    for (c, _s, day, _m), amount in last.items():
        expected[(c, day)] = expected.get((c, day), Decimal(0)) + amount
    assert _totals(once) == expected
