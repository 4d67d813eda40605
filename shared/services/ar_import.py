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

import csv
import hashlib
import io
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    model_validator,
)

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
from shared.domain.dates import Day, check_day
from shared.domain.events import Email, Language
from shared.domain.ids import CustomerId, InvoiceId
from shared.domain.money import Currency, check_minor_units

REQUIRED = ("customer_id", "invoice_id", "issue_date", "due_date", "amount", "currency")
OPTIONAL = ("paid_amount", "disputed_amount", "status", "customer_name", "contact_email", "language", "updated_at")
COLUMNS = REQUIRED + OPTIONAL
Status = Literal["open", "partially_paid", "paid", "disputed", "written_off", "void"]
PROFILE_COLUMNS = {"customer_name": "name", "contact_email": "contact_email", "language": "language"}
_ZERO = Decimal(0)


class ArImportError(ValueError):
    """The file cannot be imported; ``problems`` lists every ``file:line: column: problem``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _decimal(value: Any) -> Decimal:
    """Plain decimal text only: ``1,234.5`` or ``1e3`` are refused rather than guessed."""
    text = str(value).strip()
    if not text or any(ch not in "0123456789.-" for ch in text) or text.count(".") > 1:
        raise ValueError(f"{text!r} is not a plain decimal amount like 1234.50")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal amount") from None


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _instant(value: Any) -> datetime:
    """ISO 8601 with an offset, or a date (midnight UTC); a naive timestamp is ambiguous and refused."""
    text = str(value).strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("needs a UTC offset, e.g. 2026-03-01T09:30:00+08:00")
    return parsed


Money = Annotated[Decimal, BeforeValidator(_decimal), AfterValidator(_not_negative)]


class ArRow(BaseModel):
    """One validated row; field names are the column names."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    line: int
    customer_id: CustomerId
    invoice_id: InvoiceId
    issue_date: Day
    due_date: Day
    amount: Money
    currency: Currency
    paid_amount: Money = _ZERO
    disputed_amount: Money = _ZERO
    status: Status = "open"
    customer_name: str | None = None
    contact_email: Email | None = None
    language: Language | None = None
    updated_at: Annotated[datetime, BeforeValidator(_instant), AfterValidator(check_day)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ArRow:
        for column in ("amount", "paid_amount", "disputed_amount"):
            try:
                check_minor_units(getattr(self, column), self.currency)
            except ValueError as exc:
                raise ValueError(f"{column}: {exc}") from None
        if self.due_date < self.issue_date:
            raise ValueError(f"due_date: {self.due_date} is before issue_date {self.issue_date}")
        if self.amount == 0:
            raise ValueError("amount: must be greater than zero (give the original amount and status void "
                             "for a cancelled invoice)")
        if self.paid_amount > self.amount:
            raise ValueError(f"paid_amount: {self.paid_amount} exceeds amount {self.amount}")
        if self.disputed_amount > self.amount - self.paid_amount:
            raise ValueError(f"disputed_amount: {self.disputed_amount} exceeds the open amount "
                             f"{self.amount - self.paid_amount}")
        if self.status == "paid" and self.paid_amount < self.amount:
            raise ValueError(f"status: paid, but paid_amount {self.paid_amount} is below amount {self.amount}")
        return self


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


def _problem(name: str, line: int, exc: ValidationError) -> list[str]:
    out = []
    for e in exc.errors():
        column = ".".join(str(p) for p in e["loc"]) or None
        message = str(e["msg"]).removeprefix("Value error, ")
        if column is None and ": " in message:  # model-level checks name their column first
            column, message = message.split(": ", 1)
        out.append(f"{name}:{line}: {column or 'row'}: {message}")
    return out


def parse_rows(lines: Iterable[str], name: str) -> tuple[list[ArRow], list[str]]:
    """Validate the header and every row; returns (rows, problems)."""
    reader = csv.DictReader(lines)
    header = [h.strip() for h in (reader.fieldnames or [])]
    problems = [f"{name}:1: {c}: missing required column" for c in REQUIRED if c not in header]
    problems += [f"{name}:1: {c}: unknown column (known: {', '.join(COLUMNS)})" for c in header if c not in COLUMNS]
    if problems:
        return [], problems
    rows: list[ArRow] = []
    invoices: dict[tuple[str, str], int] = {}
    for record in reader:
        line = reader.line_num
        data = {k.strip(): v.strip() for k, v in record.items() if k is not None and v is not None and v.strip()}
        if None in record:
            problems.append(f"{name}:{line}: row: more fields than columns in the header")
            continue
        try:
            row = ArRow.model_validate({"line": line, **data})
        except ValidationError as exc:
            problems += _problem(name, line, exc)
            continue
        key = (row.customer_id, row.invoice_id)
        if key in invoices:
            problems.append(f"{name}:{line}: invoice_id: {row.invoice_id} already on line {invoices[key]}")
            continue
        invoices[key] = line
        rows.append(row)
    return rows, problems


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
