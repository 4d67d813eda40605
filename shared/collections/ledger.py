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

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.collections._fast import build, replace
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

_ZERO = Decimal(0)
_Frozen = ConfigDict(frozen=True, extra="forbid")


def _order(event: Any) -> tuple[datetime, str]:
    return (event.occurred_at, event.event_id)


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


class InvoiceFacts(BaseModel):
    """Everything received about one invoice; ``issued`` is None until the invoice itself arrives."""

    model_config = _Frozen
    invoice_id: str
    issued: InvoiceIssued | None = None
    adjustments: tuple[InvoiceAdjusted, ...] = ()
    credits: tuple[InvoiceCredited, ...] = ()
    disputes: tuple[InvoiceDisputed | DisputeResolved, ...] = ()
    written_off: InvoiceWrittenOff | None = None


class InvoiceBalance(BaseModel):
    """Derived figures of one issued invoice."""

    model_config = _Frozen
    invoice_id: str
    currency: str
    issue_date: date
    due_date: date
    amount: Decimal  # after adjustments
    credited: Decimal  # credit notes + upheld/partial dispute outcomes
    paid: Decimal  # direct + pool allocations
    written_off: Decimal
    open: Decimal  # still owed, disputed part included
    disputed: Decimal  # part of ``open`` under an unresolved dispute

    @property
    def undisputed(self) -> Decimal:
        return self.open - self.disputed


class LedgerSummary(BaseModel):
    """Figures derived from the facts; recomputed on every change, read by evaluation."""

    model_config = _Frozen
    invoices: tuple[InvoiceBalance, ...] = ()  # issued invoices, oldest due first
    rows: tuple[tuple[date, str, Decimal], ...] = ()  # (due, currency, undisputed open > 0), oldest first
    unallocated: dict[str, Decimal] = Field(default_factory=dict)
    disputed: dict[str, Decimal] = Field(default_factory=dict)  # unresolved disputes per currency
    payments: tuple[tuple[datetime, str, Decimal], ...] = ()  # (received_at, currency, amount), by time
    digest: str = ""  # hash of the facts, for decision fingerprints

    def open_items(self) -> list[InvoiceBalance]:
        return [i for i in self.invoices if i.open > 0]

    def overdue_by_currency(self, as_of: date) -> dict[str, Decimal]:
        """Undisputed open amounts whose due date is before ``as_of`` (due today is not overdue)."""
        out: dict[str, Decimal] = {}
        for due, currency, amount in self.rows:
            if due >= as_of:
                break
            out[currency] = out[currency] + amount if currency in out else amount
        return out

    def oldest_unpaid_due(self, tolerance: dict[str, Decimal]) -> date | None:
        """The due date by which more than the tolerance (per currency) was due and is still unpaid.

        Walks undisputed open amounts oldest-due-first and returns the first due date at which the running
        sum of that currency exceeds its tolerance, so a crumb left on an old invoice never anchors the
        day count on its own.
        """
        running: dict[str, Decimal] = {}
        for due, currency, amount in self.rows:
            total = running[currency] + amount if currency in running else amount
            running[currency] = total
            if total > tolerance.get(currency, _ZERO):
                return due
        return None

    def paid_between(self, currency: str, start: datetime, end: datetime) -> Decimal:
        return sum((a for t, c, a in self.payments if c == currency and start <= t < end), start=_ZERO)


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


class LedgerError(ValueError):
    """An event that cannot belong to this ledger."""


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


_Dispute = Decimal | Literal["whole"] | None


def _invoice_terms(f: InvoiceFacts, issued: InvoiceIssued) -> tuple[Decimal, Decimal, _Dispute]:
    """(amount after adjustments, credits incl. dispute outcomes, open dispute) of one invoice."""
    amount = issued.amount
    for adj in sorted(f.adjustments, key=_order):
        amount = adj.new_amount if adj.new_amount is not None else amount + (adj.delta or _ZERO)
        amount = max(amount, _ZERO)
    credited = sum((c.amount for c in f.credits), start=_ZERO)
    dispute: _Dispute = None
    for d in sorted(f.disputes, key=_order):
        if isinstance(d, InvoiceDisputed):  # open disputes accumulate; a whole-invoice one covers all
            if d.amount is None or dispute == "whole":
                dispute = "whole"
            else:
                dispute = d.amount + (dispute if isinstance(dispute, Decimal) else _ZERO)
        elif dispute is not None:
            whole = dispute if isinstance(dispute, Decimal) else amount
            if d.outcome == "upheld":
                credited += whole
            elif d.outcome == "partial":
                credited += min(d.amount or _ZERO, whole)
            dispute = None
    return amount, credited, dispute


def derive_summary(
    invoices: dict[str, InvoiceFacts], payments: dict[str, PaymentReceived], seen: Iterable[str]
) -> LedgerSummary:
    """Balances from facts alone (see the module docstring for the allocation rules)."""
    direct: dict[str, Decimal] = defaultdict(Decimal)
    pool: dict[str, Decimal] = defaultdict(Decimal)
    issued = {k: f for k, f in invoices.items() if f.issued is not None}
    for p in payments.values():
        f = issued.get(p.invoice_id) if p.invoice_id else None
        if f is not None and f.issued is not None and f.issued.currency == p.currency:
            direct[p.invoice_id] += p.amount  # type: ignore[index]
        else:
            pool[p.currency] += p.amount
    rows: list[dict[str, Any]] = []
    for inv_id, f in issued.items():
        iss = f.issued
        assert iss is not None
        amount, credited, dispute = _invoice_terms(f, iss)
        gross = max(amount - credited, _ZERO)
        paid = min(direct[inv_id], gross)
        pool[iss.currency] += direct[inv_id] - paid
        open_ = gross - paid
        written_off = _ZERO
        if f.written_off is not None:
            written_off, open_ = open_, _ZERO
        if dispute is None:
            disputed = _ZERO
        else:
            disputed = min(dispute, open_) if isinstance(dispute, Decimal) else open_
        rows.append(
            dict(
                invoice_id=inv_id,
                currency=iss.currency,
                issue_date=iss.issue_date,
                due_date=iss.due_date,
                amount=amount,
                credited=credited,
                paid=paid,
                written_off=written_off,
                open=open_,
                disputed=disputed,
            )
        )
    rows.sort(key=lambda r: (r["due_date"], r["invoice_id"]))
    for r in rows:
        available = pool.get(r["currency"], _ZERO)
        undisputed = r["open"] - r["disputed"]
        if available > 0 and undisputed > 0:
            take = min(available, undisputed)
            pool[r["currency"]] = available - take
            r["paid"] += take
            r["open"] -= take
    pays = tuple(sorted((p.received_at, p.currency, p.amount) for p in payments.values()))
    digest = hashlib.blake2b("\x1f".join(sorted(seen)).encode(), digest_size=16).hexdigest()
    disputed_total: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        if r["disputed"]:
            disputed_total[r["currency"]] += r["disputed"]
    return build(
        LedgerSummary,
        invoices=tuple(build(InvoiceBalance, **r) for r in rows),
        rows=tuple(
            (r["due_date"], r["currency"], r["open"] - r["disputed"])
            for r in rows
            if r["open"] > r["disputed"]
        ),
        unallocated={c: a for c, a in sorted(pool.items()) if a > 0},
        disputed=dict(sorted(disputed_total.items())),
        payments=pays,
        digest=digest,
    )
