"""Accounts-receivable import: an AR export (CSV, one row per invoice) -> payment events.

Used for the first load and for reconciliation. The mapping is pure: ``parse_ar_csv`` returns the events
(or every problem as ``file:line: column: problem``) and the CLI puts them on the payment-events queue
through ``enqueue_events``, so imported facts take the same path as every other event.

CSV format (UTF-8, a BOM is accepted; header row required; unknown columns are refused):

====================  ========  ==============================================================
column                required  meaning
====================  ========  ==============================================================
customer_id           yes       tenant id: a GUID, any case (stored lower-case)
invoice_id            yes       invoice number (unique in the file)
issue_date            yes       YYYY-MM-DD
due_date              yes       YYYY-MM-DD, not before issue_date
amount                yes       current invoice amount (after credits/corrections), > 0;
                                for a void invoice its original amount
currency              yes       ISO 4217, e.g. CNY
paid_amount           no        total paid on this invoice to date (default 0)
disputed_amount       no        amount currently under dispute (default 0; see ``status``)
status                no        open | partially_paid | paid | disputed | written_off | void
customer_name         no        } customer profile: rows of one customer must agree
contact_email         no        }
language              no        } en | zh-CN
updated_at            no        when the AR system last changed the row (ISO 8601 with offset,
                                or a date = midnight UTC). Recommended: see reconciliation.
====================  ========  ==============================================================

Amounts are decimals with a dot (``1234.50``), no thousands separators, never parsed as floats.

Reconciliation semantics: each row states the AR system's *current* view of one invoice, and each event
states an absolute value, so applying an import twice or on top of an older one converges:

- ``invoice.issued`` (header: customer, currency, dates); a re-dated invoice is a new header event and the
  ledger keeps the latest;
- ``invoice.adjusted`` with ``new_amount`` = ``amount`` (``void`` sets 0);
- ``payment.received`` with ``payment_id`` ``ar-<invoice_id>`` for ``paid_amount``, marked ``cumulative``: the
  ledger keeps the latest cumulative payment per id, so a larger total replaces the smaller one instead of
  adding to it;
- the dispute state: ``dispute.resolved`` (outcome ``rejected``: nothing left in dispute) followed, when
  something is disputed, by ``invoice.disputed`` of ``disputed_amount`` (whole invoice when the status is
  ``disputed`` and no amount is given), so a changed amount replaces the open dispute;
- ``invoice.written_off`` when the status says so (final);
- one ``customer.updated`` per customer with the profile columns given.

Event ids are digests of the customer, invoice, event kind and the values the event carries (plus
``updated_at`` when present), never of the import time. Hence re-importing the same file is a no-op (every
id was seen), an unchanged row in a later export is a no-op, and a changed value yields a new event that
supersedes the old one (``occurred_at`` is ``updated_at``, or the import time). Without ``updated_at`` a
value that returns to one an earlier import carried (a dispute opened then withdrawn with nothing else
changed) has the id of that earlier event and is ignored: include ``updated_at`` to avoid this.

Limits: the AR import is authoritative for the invoices it lists (its dispute state replaces disputes from
other feeds); ``paid_amount`` falling back to 0 (a reversed payment) cannot be stated, since a payment
event needs a positive amount, so the earlier import's payment stands until corrected; payments that the
live feed also sends for the same invoice under their own ids are counted in addition to ``paid_amount``
(import payments from one source only).
"""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.domain import (
    CustomerUpdated,
    DisputeResolved,
    InvoiceAdjusted,
    InvoiceDisputed,
    InvoiceIssued,
    InvoiceWrittenOff,
    PaymentEvent,
    PaymentReceived,
)
from shared.services.ar_rows import (
    COLUMNS,
    OPTIONAL,
    PROFILE_COLUMNS,
    REQUIRED,
    ArImportError,
    ArRow,
    Status,
    parse_rows,
)

__all__ = [
    "COLUMNS",
    "OPTIONAL",
    "PROFILE_COLUMNS",
    "REQUIRED",
    "ArImportError",
    "ArRow",
    "Status",
    "ar_events",
    "parse_rows",
    "payment_id_for",
    "row_events",
    "summarize",
]

_ZERO = Decimal(0)

def _canon(part: object) -> str:
    """``1000`` and ``1000.00`` are the same amount and must give the same id."""
    return format(part.normalize(), "f") if isinstance(part, Decimal) else str(part)


def _digest(*parts: object) -> str:
    return hashlib.blake2b("\x1f".join(map(_canon, parts)).encode(), digest_size=12).hexdigest()


def _event_id(kind: str, row: ArRow, *values: object) -> str:
    stamp = row.updated_at.isoformat() if row.updated_at else ""
    return f"ar-{kind}-{_digest(row.customer_id, row.invoice_id, kind, stamp, *values)}"


def payment_id_for(invoice_id: str) -> str:
    """The one payment id the import uses per invoice (cumulative ``paid_amount``)."""
    pid = f"ar-{invoice_id}"
    return pid if len(pid) <= 128 else f"ar-{_digest(invoice_id)}"


def row_events(row: ArRow, now: datetime) -> list[PaymentEvent]:
    """The events stating one row (see the module docstring); ids depend on the row only."""
    at = row.updated_at or now
    inv: dict[str, Any] = {"customer_id": row.customer_id, "occurred_at": at, "invoice_id": row.invoice_id}
    header = (row.currency, row.issue_date, row.due_date)
    amount = _ZERO if row.status == "void" else row.amount
    events: list[PaymentEvent] = [
        InvoiceIssued(event_id=_event_id("issued", row, *header), amount=row.amount, currency=row.currency,
                      issue_date=row.issue_date, due_date=row.due_date, **inv),
        InvoiceAdjusted(event_id=_event_id("amount", row, amount), new_amount=amount,
                        reason=f"AR import: amount {amount} {row.currency}", **inv),
    ]
    if row.paid_amount > 0:
        events.append(PaymentReceived(event_id=_event_id("paid", row, row.paid_amount),
                                      payment_id=payment_id_for(row.invoice_id), amount=row.paid_amount,
                                      currency=row.currency, received_at=at, cumulative=True, **inv))
    whole = row.status == "disputed" and row.disputed_amount == 0
    disputed = "whole" if whole else row.disputed_amount
    events.append(DisputeResolved(event_id=_event_id("dispute-clear", row, disputed), outcome="rejected", **inv))
    if whole or row.disputed_amount > 0:
        events.append(InvoiceDisputed(event_id=_event_id("dispute", row, disputed),
                                      amount=None if whole else row.disputed_amount, reason="AR import",
                                      **{**inv, "occurred_at": at + timedelta(microseconds=1)}))
    if row.status == "written_off":
        events.append(InvoiceWrittenOff(event_id=_event_id("written-off", row), **inv))
    return events


def _profile_events(rows: list[ArRow], name: str, now: datetime) -> tuple[list[PaymentEvent], list[str]]:
    """One ``customer.updated`` per customer; rows of one customer that disagree are errors."""
    seen: dict[str, tuple[dict[str, str], int, datetime | None]] = {}
    problems: list[str] = []
    for row in rows:
        values = {col: v for col in PROFILE_COLUMNS if (v := getattr(row, col)) is not None}
        if row.customer_id not in seen:
            seen[row.customer_id] = (values, row.line, row.updated_at)
            continue
        known, first, stamp = seen[row.customer_id]
        for col, value in values.items():
            if col in known and known[col] != value:
                problems.append(f"{name}:{row.line}: {col}: {value!r} differs from {known[col]!r} on line {first} "
                                f"for customer {row.customer_id}")
            known.setdefault(col, value)
        if row.updated_at and (stamp is None or row.updated_at > stamp):
            seen[row.customer_id] = (known, first, row.updated_at)
    events: list[PaymentEvent] = []
    for cid, (values, _, stamp) in seen.items():
        if values:
            fields: dict[str, Any] = {PROFILE_COLUMNS[c]: v for c, v in sorted(values.items())}
            eid = f"ar-customer-{_digest(cid, *sorted(values.items()))}"
            events.append(CustomerUpdated(event_id=eid, customer_id=cid, occurred_at=stamp or now, **fields))
    return events, problems


def ar_events(text: str, name: str, now: datetime) -> list[PaymentEvent]:
    """All events of an AR export, or ``ArImportError`` listing every problem (then nothing is imported)."""
    rows, problems = parse_rows(io.StringIO(text.removeprefix("\ufeff"), newline=""), name)
    if not rows and not problems:
        problems.append(f"{name}:2: row: no invoices in the file")
    profiles, conflicts = _profile_events(rows, name, now)
    problems += conflicts
    if problems:
        raise ArImportError(problems)
    return [*profiles, *(e for row in rows for e in row_events(row, now))]


def summarize(events: list[PaymentEvent]) -> dict[str, Any]:
    """Counts for the CLI: events by type, customers and invoices touched."""
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e.type] = kinds.get(e.type, 0) + 1
    return {"events": len(events), "by_type": dict(sorted(kinds.items())),
            "customers": len({e.customer_id for e in events}),
            "invoices": len({i for e in events if (i := getattr(e, "invoice_id", None))})}
