"""Customer ledger: the facts received so far and the balances derived from them.

``apply_event`` is pure and idempotent (an ``event_id`` seen before changes nothing). Balances are a
function of the *set* of facts, never of arrival order: each application re-derives the summary from
the stored facts (a payment that arrives before its invoice ends in the same balances). Derived figures
are computed once per ledger change so evaluation never recomputes them.

Allocation rules (deterministic):
1. a payment naming an issued invoice in the same currency pays that invoice, up to its open amount;
2. everything else (no invoice, unknown invoice, other currency, excess) joins the currency's pool;
3. the pool pays *undisputed* open amounts oldest-due-first (ties by invoice id); what remains is
   unallocated credit.
Disputes remove only the disputed amount from what is collectable; open disputes of one invoice add up
(so a further dispute never makes more collectable) and a resolution settles all of them: ``upheld``
credits the disputed amount, ``rejected`` makes it payable again, ``partial`` credits the given amount.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.collections._fast import build, replace
from shared.collections.balances import InvoiceBalance, InvoiceFacts, LedgerSummary, derive_summary
from shared.collections.balances import event_order as _order
from shared.collections.errors import LedgerError
from shared.domain import (
    CustomerUpdated,
    DisputeResolved,
    InvoiceAdjusted,
    InvoiceCredited,
    InvoiceDisputed,
    InvoiceIssued,
    InvoiceWrittenOff,
    Money,
    PaymentEvent,
    PaymentInTransit,
    PaymentReceived,
)
from shared.domain.events import PROFILE_FIELDS, Language, PlannedChange
from shared.domain.money import check_minor_units

__all__ = [
    "CustomerLedger",
    "CustomerProfile",
    "InvoiceBalance",
    "InvoiceFacts",
    "LedgerError",
    "LedgerSummary",
    "apply_event",
    "apply_events",
    "derive_summary",
    "same_payment",
]

_Frozen = ConfigDict(frozen=True, extra="forbid")


class CustomerProfile(BaseModel):
    """What collections needs to know about the customer (set by ``customer.updated``)."""

    model_config = _Frozen
    name: str | None = None
    credit_limit: Money | None = None
    payment_terms_days: int | None = None
    contact_email: str | None = None
    language: Language = "en"
    country: str = "CN"
    segment: str = "standard"
    # the declared baseline fraud detection reads (customer.updated, POST /api/fraud/customers/{id}/baseline)
    expected_monthly_spend: Money | None = None
    prepayment: Money | None = None
    planned_changes: tuple[PlannedChange, ...] = ()
    onboarded_on: date | None = None


class CustomerLedger(BaseModel):
    """One customer's collections state: facts, profile, seen event ids and the derived summary."""

    model_config = _Frozen
    customer_id: str
    profile: CustomerProfile = CustomerProfile()
    profile_stamps: dict[str, tuple[datetime, str]] = Field(default_factory=dict)
    invoices: dict[str, InvoiceFacts] = Field(default_factory=dict)
    payments: dict[str, PaymentReceived] = Field(default_factory=dict)
    transit_holds: tuple[PaymentInTransit, ...] = ()
    seen_event_ids: frozenset[str] = frozenset()
    last_event_at: datetime | None = None
    summary: LedgerSummary = LedgerSummary()

    @classmethod
    def empty(cls, customer_id: str) -> CustomerLedger:
        return cls(customer_id=customer_id)


def same_payment(a: PaymentReceived, b: PaymentReceived) -> bool:
    """Two statements of one payment with the same content (a producer's retry under a new event id)."""
    return (a.amount, a.currency, a.invoice_id, a.received_at) == (b.amount, b.currency, b.invoice_id, b.received_at)


def _check(event: PaymentEvent, invoices: dict[str, InvoiceFacts], payments: dict[str, PaymentReceived]) -> bool:
    """Refuse what cannot be applied (LedgerError); False when the event restates a recorded payment."""
    if isinstance(event, PaymentReceived):
        known = payments.get(event.payment_id)
        if known is None or (known.cumulative and event.cumulative):
            return True
        if same_payment(known, event):
            return False
        raise LedgerError(
            f"payment {event.payment_id} was already recorded by event {known.event_id} "
            f"({known.amount} {known.currency}, received {known.received_at.isoformat()}, invoice "
            f"{known.invoice_id or '-'}); event {event.event_id} states {event.amount} {event.currency}, received "
            f"{event.received_at.isoformat()}, invoice {event.invoice_id or '-'}: a distinct payment needs its own "
            "payment_id; replay this one corrected, or discard it if the first is right"
        )
    amounts = [getattr(event, name, None) for name in ("amount", "new_amount", "delta")]
    facts = invoices.get(getattr(event, "invoice_id", None) or "")
    if facts is not None and facts.issued is not None and not hasattr(event, "currency"):
        for amount in amounts:
            if amount is not None:
                try:
                    check_minor_units(amount, facts.issued.currency)
                except ValueError as exc:
                    raise LedgerError(f"event {event.event_id}: {exc}") from None
    return True


def apply_event(ledger: CustomerLedger, event: PaymentEvent) -> CustomerLedger:
    """Return the ledger with ``event`` recorded and balances re-derived; unchanged if already seen."""
    return apply_events(ledger, (event,))


def apply_events(ledger: CustomerLedger, events: Iterable[PaymentEvent]) -> CustomerLedger:
    """Apply many events and derive the summary once (the fast path for rebuilding a ledger)."""
    seen = set(ledger.seen_event_ids)
    invoices = dict(ledger.invoices)
    payments = dict(ledger.payments)
    holds = list(ledger.transit_holds)
    profile = dict(ledger.profile.__dict__)
    stamps = dict(ledger.profile_stamps)
    last = ledger.last_event_at
    changed = False
    for event in events:
        if event.customer_id != ledger.customer_id:
            raise LedgerError(
                f"event {event.event_id} is for customer {event.customer_id}, not {ledger.customer_id}"
            )
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        changed = True
        if not _check(event, invoices, payments):
            continue
        last = event.occurred_at if last is None else max(last, event.occurred_at)
        _record(event, invoices, payments, holds, profile, stamps)
    if not changed:
        return ledger
    holds.sort(key=_order)
    summary = derive_summary(invoices, payments, seen)
    return replace(
        ledger,
        invoices=invoices,
        payments=payments,
        transit_holds=tuple(holds),
        profile=ledger.profile
        if stamps == ledger.profile_stamps
        else CustomerProfile.model_validate(profile),
        profile_stamps=stamps,
        seen_event_ids=frozenset(seen),
        last_event_at=last,
        summary=summary,
    )


def _facts(invoices: dict[str, InvoiceFacts], invoice_id: str) -> InvoiceFacts:
    return invoices.get(invoice_id) or build(
        InvoiceFacts,
        invoice_id=invoice_id,
        issued=None,
        adjustments=(),
        credits=(),
        disputes=(),
        written_off=None,
    )


def _later(a: Any, b: Any) -> Any:
    """Of two events describing the same thing, the later one (by occurred_at, then event_id) wins."""
    return b if a is None or _order(b) > _order(a) else a


def _record(
    event: PaymentEvent,
    invoices: dict[str, InvoiceFacts],
    payments: dict[str, PaymentReceived],
    holds: list[PaymentInTransit],
    profile: dict[str, Any],
    stamps: dict[str, tuple[datetime, str]],
) -> None:
    match event:
        case InvoiceIssued():
            f = _facts(invoices, event.invoice_id)
            invoices[event.invoice_id] = replace(f, issued=_later(f.issued, event))
        case InvoiceAdjusted():
            f = _facts(invoices, event.invoice_id)
            invoices[event.invoice_id] = replace(f, adjustments=(*f.adjustments, event))
        case InvoiceCredited():
            f = _facts(invoices, event.invoice_id)
            invoices[event.invoice_id] = replace(f, credits=(*f.credits, event))
        case InvoiceDisputed() | DisputeResolved():
            f = _facts(invoices, event.invoice_id)
            invoices[event.invoice_id] = replace(f, disputes=(*f.disputes, event))
        case InvoiceWrittenOff():
            f = _facts(invoices, event.invoice_id)
            invoices[event.invoice_id] = replace(f, written_off=_later(f.written_off, event))
        case PaymentReceived():
            payments[event.payment_id] = _later(payments.get(event.payment_id), event)
        case PaymentInTransit():
            holds.append(event)
        case CustomerUpdated():
            stamp = _order(event)
            for name in event.model_fields_set & PROFILE_FIELDS:
                if name not in stamps or stamp > stamps[name]:
                    stamps[name] = stamp
                    value = getattr(event, name)
                    if name in ("credit_limit", "expected_monthly_spend", "prepayment") and value is not None:
                        value = Money.model_construct(amount=value.amount, currency=value.currency)
                    profile[name] = () if name == "planned_changes" and value is None else value
