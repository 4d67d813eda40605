"""Ledger reducer: allocation rules, disputes, idempotency and order-insensitivity."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from _collections_builders import T0, ev, issued, ledger, paid
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.collections import CustomerLedger, LedgerError, apply_event, apply_events
from shared.domain import Money

D = Decimal
JAN, FEB, MAR = date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)


def balances(led: CustomerLedger) -> dict[str, tuple[Decimal, Decimal]]:
    return {i.invoice_id: (i.open, i.disputed) for i in led.summary.invoices}


def test_unallocated_payment_pays_oldest_due_first() -> None:
    led = ledger(issued("feb", "300", FEB), issued("jan", "100", JAN), paid("p1", "250"))
    assert balances(led) == {"jan": (D(0), D(0)), "feb": (D(150), D(0))}
    assert led.summary.unallocated == {}


def test_payment_naming_an_invoice_pays_it_and_excess_goes_to_the_pool() -> None:
    led = ledger(issued("jan", "100", JAN), issued("feb", "300", FEB), paid("p1", "450", inv="feb"))
    assert balances(led) == {"jan": (D(0), D(0)), "feb": (D(0), D(0))}
    assert led.summary.unallocated == {"CNY": D(50)}


def test_payment_before_its_invoice_ends_in_the_same_balances() -> None:
    events = [issued("jan", "100", JAN), paid("p1", "60", inv="jan")]
    assert balances(ledger(*events)) == balances(ledger(*reversed(events))) == {"jan": (D(40), D(0))}
    only_payment = ledger(events[1])
    assert only_payment.summary.invoices == () and only_payment.summary.unallocated == {"CNY": D(60)}


def test_other_currency_payment_stays_unallocated() -> None:
    led = ledger(issued("jan", "100", JAN), paid("p1", "50", cur="USD", inv="jan"))
    assert balances(led) == {"jan": (D(100), D(0))}
    assert led.summary.unallocated == {"USD": D(50)}


def test_adjustments_credits_and_write_offs() -> None:
    led = ledger(
        issued("jan", "100", JAN),
        ev("invoice.adjusted", invoice_id="jan", delta="20", reason="late usage"),
        ev("invoice.credited", invoice_id="jan", amount="30"),
    )
    inv = led.summary.invoices[0]
    assert (inv.amount, inv.credited, inv.open) == (D(120), D(30), D(90))
    later = T0 + timedelta(days=1)
    led = apply_event(
        led, ev("invoice.adjusted", occurred_at=later, invoice_id="jan", new_amount="50", reason="x")
    )
    assert led.summary.invoices[0].open == D(20)
    led = apply_event(led, ev("invoice.written_off", invoice_id="jan"))
    inv = led.summary.invoices[0]
    assert (inv.open, inv.written_off) == (D(0), D(20))


@pytest.mark.parametrize(
    ("dispute", "resolution", "expected"),
    [
        ({"amount": "40"}, None, (D(100), D(40))),
        ({}, None, (D(100), D(100))),
        ({"amount": "40"}, {"outcome": "upheld"}, (D(60), D(0))),
        ({"amount": "40"}, {"outcome": "rejected"}, (D(100), D(0))),
        ({"amount": "40"}, {"outcome": "partial", "amount": "10"}, (D(90), D(0))),
        ({}, {"outcome": "upheld"}, (D(0), D(0))),
    ],
)
def test_disputes_remove_only_the_disputed_amount(
    dispute: dict, resolution: dict | None, expected: tuple
) -> None:
    events = [issued("jan", "100", JAN), ev("invoice.disputed", invoice_id="jan", **dispute)]
    if resolution:
        events.append(
            ev("dispute.resolved", occurred_at=T0 + timedelta(days=1), invoice_id="jan", **resolution)
        )
    assert balances(ledger(*events))["jan"] == expected


def test_open_disputes_add_up_and_one_resolution_settles_them() -> None:
    events = [
        issued("jan", "100", JAN),
        ev("invoice.disputed", invoice_id="jan", amount="40"),
        ev("invoice.disputed", invoice_id="jan", amount="30"),
    ]
    assert balances(ledger(*events))["jan"] == (D(100), D(70))
    events.append(
        ev("dispute.resolved", occurred_at=T0 + timedelta(days=1), invoice_id="jan", outcome="upheld")
    )
    assert balances(ledger(*events))["jan"] == (D(30), D(0))


def test_pool_never_pays_the_disputed_part() -> None:
    led = ledger(
        issued("jan", "100", JAN), ev("invoice.disputed", invoice_id="jan", amount="40"), paid("p", "100")
    )
    assert balances(led)["jan"] == (D(40), D(40))
    assert led.summary.unallocated == {"CNY": D(40)}


def test_same_event_twice_changes_nothing_and_foreign_customer_is_refused() -> None:
    e = paid("p1", "10")
    once = ledger(issued("jan", "100", JAN), e)
    assert apply_event(once, e) is once
    with pytest.raises(LedgerError):
        apply_event(once, paid("p2", "1", cid="00000000-0000-4000-8000-0000000000ff"))


def test_customer_profile_latest_change_wins_per_field_in_any_order() -> None:
    a = ev("customer.updated", occurred_at=T0, language="zh-CN", segment="strategic")
    b = ev(
        "customer.updated",
        occurred_at=T0 + timedelta(hours=1),
        language="en",
        credit_limit={"amount": "5000", "currency": "CNY"},
    )
    for order in ([a, b], [b, a]):
        p = ledger(*order).profile
        assert (p.language, p.segment, p.credit_limit) == ("en", "strategic", Money.of("5000", "CNY"))


# --- properties ---------------------------------------------------------------------------------------

amounts = st.integers(min_value=1, max_value=100_000).map(lambda c: f"{c / 100:.2f}")


@st.composite
def event_sets(draw: st.DrawFn) -> list:
    n_inv = draw(st.integers(1, 4))
    events = []
    for i in range(n_inv):
        due = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 90)))
        events.append(issued(f"i{i}", draw(amounts), due))
        if draw(st.booleans()):
            events.append(ev("invoice.disputed", invoice_id=f"i{i}", amount=draw(st.none() | amounts)))
        if draw(st.integers(0, 4)) == 0:
            events.append(ev("invoice.credited", invoice_id=f"i{i}", amount=draw(amounts)))
    for p in range(draw(st.integers(0, 4))):
        target = draw(st.none() | st.sampled_from([f"i{i}" for i in range(n_inv)] + ["ghost"]))
        events.append(paid(f"p{p}", draw(amounts), T0 + timedelta(days=p), inv=target))
    return events


@settings(max_examples=60, deadline=None)
@given(event_sets(), st.randoms(use_true_random=False))
def test_balances_do_not_depend_on_arrival_order(events: list, rnd: random.Random) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    one_by_one = CustomerLedger.empty("00000000-0000-4000-8000-0000000000c1")
    for e in shuffled:
        one_by_one = apply_event(one_by_one, e)
    assert one_by_one.summary == ledger(*events).summary


@settings(max_examples=60, deadline=None)
@given(event_sets(), st.data())
def test_replaying_any_event_is_a_no_op(events: list, data: st.DataObject) -> None:
    led = ledger(*events)
    replay = data.draw(st.lists(st.sampled_from(events), min_size=1, max_size=5))
    assert apply_events(led, replay) == led


@settings(max_examples=60, deadline=None)
@given(event_sets())
def test_money_is_conserved(events: list) -> None:
    """Every payment is either allocated to an invoice or left unallocated; nothing is created or lost."""
    s = ledger(*events).summary
    received = sum((a for _, _, a in s.payments), start=D(0))
    assert sum((i.paid for i in s.invoices), start=D(0)) + sum(s.unallocated.values(), start=D(0)) == received
    assert all(i.open >= 0 and 0 <= i.disputed <= i.open for i in s.invoices)


def test_ledger_round_trips_through_json_for_storage() -> None:
    led = ledger(
        issued("jan", "100", JAN),
        paid("p", "30"),
        ev("invoice.disputed", invoice_id="jan", amount="10"),
        ev("dispute.resolved", invoice_id="jan", outcome="partial", amount="5"),
        ev("customer.updated", credit_limit={"amount": "10", "currency": "CNY"}),
        ev("payment.in_transit", reference="SWIFT1", hold_until="2026-02-01"),
    )
    back = CustomerLedger.model_validate_json(led.model_dump_json())
    assert back == led and back.summary.rows == led.summary.rows
