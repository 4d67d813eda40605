"""The pure AR-export -> payment-events mapping: format, errors, deterministic ids, reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.collections import CustomerLedger
from shared.collections.ledger import apply_events
from shared.services.ar_import import ArImportError, ar_events, payment_id_for

C1 = "00000000-0000-4000-8000-0000000000c1"
C2 = "00000000-0000-4000-8000-0000000000c2"
C3 = "00000000-0000-4000-8000-0000000000c3"

SAMPLE = Path(__file__).parents[2] / "config" / "samples" / "ar-export.sample.csv"
HEADER = ("customer_id,customer_name,contact_email,language,invoice_id,issue_date,due_date,amount,currency,"
          "paid_amount,disputed_amount,status,updated_at\n")
NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def csv(*rows: str) -> str:
    return HEADER + "".join(r + "\n" for r in rows)


def problems(text: str) -> list[str]:
    with pytest.raises(ArImportError) as info:
        ar_events(text, "ar.csv", NOW)
    return info.value.problems


def ledger_of(customer: str, *imports: list) -> CustomerLedger:
    ledger = CustomerLedger.empty(customer)
    for events in imports:
        ledger = apply_events(ledger, [e for e in events if e.customer_id == customer])
    return ledger


def test_sample_file_imports_with_profile_and_all_invoices() -> None:
    events = ar_events(SAMPLE.read_text(encoding="utf-8"), str(SAMPLE), NOW)
    kinds = [e.type for e in events]
    assert kinds.count("customer.updated") == 3
    assert kinds.count("invoice.issued") == 6
    assert kinds.count("invoice.written_off") == 1
    assert all(isinstance(getattr(e, "amount", None) or Decimal(0), Decimal) for e in events)


def test_same_file_gives_same_event_ids_whatever_the_import_time() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    first = [e.event_id for e in ar_events(text, "a.csv", NOW)]
    again = [e.event_id for e in ar_events(text, "b.csv", NOW + timedelta(days=3))]
    assert first == again
    assert len(set(first)) == len(first)


def test_re_import_is_a_no_op_on_the_ledger() -> None:
    events = ar_events(csv(f"{C1},,,,I1,2026-01-01,2026-01-31,100.00,CNY,40,,partially_paid,"), "a.csv", NOW)
    once = ledger_of(C1, events)
    twice = apply_events(once, ar_events(csv(f"{C1},,,,I1,2026-01-01,2026-01-31,100.00,CNY,40,,partially_paid,"),
                                         "a.csv", NOW + timedelta(days=1)))
    assert twice is once  # every id already seen: nothing changed


def test_equal_amounts_written_differently_give_the_same_ids() -> None:
    a = ar_events(csv(f"{C1},,,,I1,2026-01-01,2026-01-31,100.00,CNY,40.0,,,"), "a.csv", NOW)
    b = ar_events(csv(f"{C1},,,,I1,2026-01-01,2026-01-31,100,CNY,40,,,"), "a.csv", NOW)
    assert [e.event_id for e in a] == [e.event_id for e in b]


def test_changed_row_adds_only_the_changed_facts_and_the_ledger_converges() -> None:
    before = ar_events(csv(f"{C1},,,,I1,2026-01-01,2026-01-31,100.00,CNY,40,,partially_paid,"), "a.csv", NOW)
    after = ar_events(csv(f"{C1},,,,I1,2026-01-01,2026-01-31,90.00,CNY,70,,partially_paid,"), "a.csv",
                      NOW + timedelta(days=1))
    new_ids = {e.event_id for e in after} - {e.event_id for e in before}
    assert sorted(e.type for e in after if e.event_id in new_ids) == ["invoice.adjusted", "payment.received"]
    inv = ledger_of(C1, before, after).summary.invoices[0]
    assert (inv.amount, inv.paid, inv.open) == (Decimal("90.00"), Decimal(70), Decimal(20))
    # the cumulative payment replaced the earlier one instead of adding to it
    assert len(ledger_of(C1, before, after).payments) == 1
    assert payment_id_for("I1") in ledger_of(C1, before, after).payments


def test_dispute_changes_replace_the_open_dispute_and_can_be_cleared() -> None:
    rows = [
        f"{C1},,,,I1,2026-01-01,2026-01-31,100,CNY,0,30,disputed,2026-02-01T00:00:00Z",
        f"{C1},,,,I1,2026-01-01,2026-01-31,100,CNY,0,50,disputed,2026-02-02T00:00:00Z",
        f"{C1},,,,I1,2026-01-01,2026-01-31,100,CNY,0,,open,2026-02-03T00:00:00Z",
        f"{C1},,,,I1,2026-01-01,2026-01-31,100,CNY,0,,disputed,2026-02-04T00:00:00Z",
    ]
    imports = [ar_events(csv(r), "a.csv", NOW) for r in rows]
    expected = [Decimal(30), Decimal(50), Decimal(0), Decimal(100)]  # not 30 + 50; cleared; whole invoice
    for n, want in enumerate(expected, start=1):
        assert ledger_of(C1, *imports[:n]).summary.invoices[0].disputed == want


def test_written_off_and_void_rows_leave_nothing_collectable() -> None:
    events = ar_events(csv(f"{C1},,,,I1,2026-01-01,2026-01-31,100,CNY,,,written_off,",
                           f"{C1},,,,I2,2026-01-01,2026-01-31,80,CNY,,,void,"), "a.csv", NOW)
    summary = ledger_of(C1, events).summary
    assert summary.overdue_by_currency(NOW.date()) == {}
    assert [i.open for i in summary.invoices] == [0, 0]


def test_every_problem_is_reported_by_line_and_column_and_nothing_is_returned() -> None:
    found = problems(csv(
        f"{C1},,,,I1,2026-01-01,2026-01-31,100.00,CNY,,,,",
        f"{C1},,,,I2,2026-02-01,2026-01-01,1,CNY,,,,",
        f"{C2},,not-an-email,fr,I3,2026-01-01,2026-01-31,\"1,000.00\",cny,,,,",
        f"{C1},,,,I1,2026-01-01,2026-01-31,5,CNY,,,,",
        f"{C3},,,,I4,2026-01-01,2026-01-31,10,CNY,12,,,",
        f"{C3},,,,I5,2026-01-01,2026-01-31,10,CNY,,,,2026-01-05T10:00:00",
    ))
    assert "ar.csv:3: due_date: 2026-01-01 is before issue_date 2026-02-01" in found
    assert any(p.startswith("ar.csv:4: contact_email:") for p in found)
    assert any(p.startswith("ar.csv:4: language:") for p in found)
    assert any(p.startswith("ar.csv:4: amount: '1,000.00' is not a plain decimal") for p in found)
    assert any(p.startswith("ar.csv:4: currency:") for p in found)
    assert "ar.csv:5: invoice_id: I1 already on line 2" in found
    assert "ar.csv:6: paid_amount: 12 exceeds amount 10" in found
    assert any(p.startswith("ar.csv:7: updated_at: needs a UTC offset") for p in found)


def test_header_problems_and_conflicting_customer_details() -> None:
    found = problems("customer_id,invoice_id,amount,colour\n{C1},I1,1,red\n")
    assert found[:3] == [
        "ar.csv:1: issue_date: missing required column",
        "ar.csv:1: due_date: missing required column",
        "ar.csv:1: currency: missing required column",
    ]
    assert found[3].startswith("ar.csv:1: colour: unknown column (known: customer_id, invoice_id,")
    assert len(found) == 4
    found = problems(csv(f"{C1},Acme,,,I1,2026-01-01,2026-01-31,1,CNY,,,,",
                         f"{C1},ACME Ltd,,,I2,2026-01-01,2026-01-31,1,CNY,,,,"))
    assert found == ["ar.csv:3: customer_name: 'ACME Ltd' differs from 'Acme' on line 2 for customer " + C1]
    assert problems(HEADER) == ["ar.csv:2: row: no invoices in the file"]


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from([C1, C2, C3]), amounts, st.integers(0, 100)),
                     min_size=1, max_size=8),
       shift=st.integers(0, 10_000))
def test_ids_are_deterministic_unique_and_independent_of_import_time(rows: list, shift: int) -> None:
    lines = [f"{c},,,,INV-{n},2026-01-01,2026-02-01,{a},CNY,{(a * p / 100).quantize(Decimal('0.01'))},,,"
             for n, (c, a, p) in enumerate(rows)]
    a = ar_events(csv(*lines), "a.csv", NOW)
    b = ar_events(csv(*lines), "a.csv", NOW + timedelta(minutes=shift))
    assert [e.event_id for e in a] == [e.event_id for e in b]
    assert len({e.event_id for e in a}) == len(a)
    for c, _, _ in rows:  # what the ledger owes equals what the AR export says is open
        open_total = sum((i.open for i in ledger_of(c, a).summary.invoices), start=Decimal(0))
        want = sum((amt - (amt * p / 100).quantize(Decimal("0.01")) for cc, amt, p in rows if cc == c),
                   start=Decimal(0))
        assert open_total == want
