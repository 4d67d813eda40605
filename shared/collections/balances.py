"""Invoice facts and the balances derived from them (the allocation rules of ``shared.collections.ledger``).

``derive_summary`` is a function of the *set* of facts, never of arrival order, so a payment that arrives
before its invoice ends in the same balances; ``ledger.apply_events`` calls it once per ledger change.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.collections._fast import build
from shared.domain import (
    DisputeResolved,
    InvoiceAdjusted,
    InvoiceCredited,
    InvoiceDisputed,
    InvoiceIssued,
    InvoiceWrittenOff,
    PaymentReceived,
)

_ZERO = Decimal(0)
_Frozen = ConfigDict(frozen=True, extra="forbid")


def event_order(event: Any) -> tuple[datetime, str]:
    """The order in which facts about one thing are applied: by occurred_at, then event_id."""
    return (event.occurred_at, event.event_id)


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


_Dispute = Decimal | Literal["whole"] | None


def _invoice_terms(f: InvoiceFacts, issued: InvoiceIssued) -> tuple[Decimal, Decimal, _Dispute]:
    """(amount after adjustments, credits incl. dispute outcomes, open dispute) of one invoice."""
    amount = issued.amount
    for adj in sorted(f.adjustments, key=event_order):
        amount = adj.new_amount if adj.new_amount is not None else amount + (adj.delta or _ZERO)
        amount = max(amount, _ZERO)
    credited = sum((c.amount for c in f.credits), start=_ZERO)
    dispute: _Dispute = None
    for d in sorted(f.disputes, key=event_order):
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
