"""Money and payment events: Decimal only, one currency at a time, strict validation with clear errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.domain import CurrencyMismatch, InvoiceIssued, Money, parse_event

C1 = "00000000-0000-4000-8000-0000000000c1"

BASE = {"event_id": "e1", "customer_id": C1, "occurred_at": "2026-01-01T00:00:00+08:00"}


def test_money_adds_within_one_currency_and_serializes_as_string() -> None:
    total = Money.of("0.10", "CNY") + Money.of("0.20", "CNY")
    assert total == Money.of("0.30", "CNY")
    assert total.model_dump(mode="json") == {"amount": "0.30", "currency": "CNY"}
    assert Money.of("5", "CNY") - Money.of("7.5", "CNY") == Money.of("-2.5", "CNY")


def test_money_refuses_mixed_currencies_and_floats() -> None:
    with pytest.raises(CurrencyMismatch):
        Money.of(1, "CNY") + Money.of(1, "USD")
    with pytest.raises(CurrencyMismatch):
        _ = Money.of(1, "CNY") < Money.of(2, "USD")
    with pytest.raises(ValidationError, match="never floats"):
        Money(amount=0.1, currency="CNY")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Money.of("1", "cny")
    with pytest.raises(ValidationError):
        Money.of("NaN", "CNY")


def test_invoice_issued_round_trips_through_json() -> None:
    event = parse_event(
        {
            **BASE,
            "type": "invoice.issued",
            "invoice_id": "i1",
            "amount": "100.50",
            "currency": "CNY",
            "issue_date": "2026-01-01",
            "due_date": "2026-01-31",
        }
    )
    assert isinstance(event, InvoiceIssued) and event.amount == Decimal("100.50")
    assert parse_event(event.model_dump_json()) == event
    assert '"amount":"100.50"' in event.model_dump_json()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {
                "type": "invoice.issued",
                "invoice_id": "i1",
                "amount": "1",
                "currency": "CNY",
                "issue_date": "2026-02-01",
                "due_date": "2026-01-01",
            },
            "before issue_date",
        ),
        (
            {
                "type": "invoice.issued",
                "invoice_id": "i1",
                "amount": "0",
                "currency": "CNY",
                "issue_date": "2026-01-01",
                "due_date": "2026-01-01",
            },
            "greater than zero",
        ),
        (
            {
                "type": "invoice.issued",
                "invoice_id": "i1",
                "amount": 1.5,
                "currency": "CNY",
                "issue_date": "2026-01-01",
                "due_date": "2026-01-01",
            },
            "not JSON numbers",
        ),
        (
            {"type": "invoice.adjusted", "invoice_id": "i1", "new_amount": "1", "delta": "2", "reason": "x"},
            "exactly one",
        ),
        ({"type": "dispute.resolved", "invoice_id": "i1", "outcome": "partial"}, "partial"),
        ({"type": "dispute.resolved", "invoice_id": "i1", "outcome": "upheld", "amount": "3"}, "partial"),
        ({"type": "customer.updated"}, "at least one"),
        ({"type": "customer.updated", "language": "fr"}, "language"),
        ({"type": "customer.updated", "contact_email": "not-an-email"}, "contact_email"),
        (
            {
                "type": "payment.received",
                "payment_id": "p",
                "amount": "1",
                "currency": "CNY",
                "received_at": "2026-01-01T00:00:00",
            },
            "timezone",
        ),
        ({"type": "invoice.written_off", "invoice_id": "i1", "surprise": 1}, "Extra inputs"),
        ({"type": "invoice.paid", "invoice_id": "i1"}, "does not match any of the expected tags"),
        ({"type": "invoice.written_off", "invoice_id": "a/b"}, "invoice_id"),
    ],
)
def test_invalid_events_are_rejected_with_a_clear_reason(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_event({**BASE, **extra})


def test_naive_occurred_at_is_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        parse_event(
            {**BASE, "occurred_at": "2026-01-01T00:00:00", "type": "invoice.written_off", "invoice_id": "i1"}
        )
