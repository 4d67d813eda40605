"""The generator is deterministic, streams usage in pages, and its ground truth is visible in the data."""

from __future__ import annotations

from datetime import date
from itertools import islice

from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.sandbox import generate_portfolio
from devtools.sandbox.generator import MISUSE_KINDS

START = date(2025, 1, 1)


def _fingerprint(p):  # type: ignore[no-untyped-def]
    return (
        [(c.id, c.company_name, c.default_domain) for c in p.customers],
        [(s.id, s.customer_id, s.offer.offer_id, s.status, s.quantity, s.parent_id) for s in p.subscriptions],
        p.misuse,
        p.lookalikes,
        p.usage_page(None, 300)[0],
    )


def test_same_seed_same_portfolio() -> None:
    a = generate_portfolio(5, 200, days=20, start=START)
    b = generate_portfolio(5, 200, days=20, start=START)
    assert _fingerprint(a) == _fingerprint(b)


def test_other_seed_other_portfolio() -> None:
    a = generate_portfolio(5, 50, days=20, start=START)
    b = generate_portfolio(6, 50, days=20, start=START)
    assert [c.id for c in a.customers] != [c.id for c in b.customers]


def test_shape_of_a_large_portfolio() -> None:
    p = generate_portfolio(1, 2000, (2, 3), days=30, start=START)
    assert len(p.customers) == 2000
    per_customer: dict[str, int] = {}
    for s in p.subscriptions:
        per_customer[s.customer_id] = per_customer.get(s.customer_id, 0) + 1
    assert min(per_customer.values()) >= 2
    statuses = {s.status for s in p.subscriptions}
    assert {"active", "suspended", "expired", "disabled"} <= statuses
    assert {s.offer.kind for s in p.subscriptions} == {"azure_plan", "azure_legacy", "license", "addon"}
    assert len(p.misuse) == 40 and len(p.lookalikes) == 60
    assert {t.kind for t in p.misuse.values()} == set(MISUSE_KINDS)
    assert not set(p.misuse) & set(p.lookalikes)
    assert sum(c.country == "CN" for c in p.customers) > 0.9 * len(p.customers)


def test_misuse_shows_up_after_its_start_day() -> None:
    p = generate_portfolio(3, 400, days=30, start=START)
    for truth in p.misuse.values():
        totals = p.daily_totals(truth.subscription_id)
        before = totals[: truth.start_day]
        after = totals[truth.start_day :]
        if truth.kind == "subscription_burst":  # a brand-new subscription: nothing before it existed
            assert sum(before) == 0 and min(after[:1]) > 0
        else:
            assert min(after) > 2 * max(before), (truth.kind, before, after)


@settings(max_examples=15, deadline=None)
@given(size=st.integers(min_value=1, max_value=400))
def test_pages_concatenate_to_the_whole_stream(size: int) -> None:
    p = generate_portfolio(2, 15, days=5, start=START)
    whole = [item for _, item in p.iter_usage()]
    paged, cursor = [], None
    while True:
        items, cursor = p.usage_page(cursor, size)
        assert len(items) <= size
        paged.extend(items)
        if cursor is None:
            break
    assert paged == whole and len(whole) > 0


def test_usage_is_streamed_lazily_for_a_big_portfolio() -> None:
    p = generate_portfolio(1, 20_000, (2, 3), days=90, start=START)
    first = list(islice(p.iter_usage(), 5))
    later_cursor = (89, 0, 0)
    last_day = list(islice(p.iter_usage(later_cursor), 5))
    assert first[0][1]["usageDate"].startswith("2025-01-01")
    assert last_day[0][1]["usageDate"].startswith("2025-03-31")
    item = first[0][1]
    for key in (
        "customerId",
        "customerName",
        "subscriptionId",
        "meterCategory",
        "meterSubCategory",
        "meterName",
        "resourceLocation",
        "usageDate",
        "quantity",
        "unitPrice",
        "billingPreTaxTotal",
        "pricingCurrency",
        "chargeType",
        "entitlementId",
    ):
        assert key in item
    assert abs(item["billingPreTaxTotal"] - round(item["quantity"] * item["unitPrice"], 2)) < 0.011


def test_no_active_azure_subscription_under_a_plan_that_is_not_active() -> None:
    """Partner Center cannot reach that state; an active plan keeps its first Azure subscription active."""
    p = generate_portfolio(3, 1500, days=10, start=START)
    plans = [s for s in p.subscriptions if s.offer.kind == "azure_plan"]
    off = [s for s in plans if s.status != "active"]
    assert off and all(e.status != "active" for s in off for e in s.entitlements)
    assert all(s.entitlements[0].status == "active" for s in plans if s.status == "active")
