"""The rows of an AR export: the columns, one validated ``ArRow`` per line, every problem as ``file:line: column:
problem``. The CSV format and what each row means for the ledger are in ``shared.services.ar_import``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
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

from shared.domain.dates import Day, check_day
from shared.domain.events import Email, Language
from shared.domain.ids import CustomerId, InvoiceId
from shared.domain.money import Currency, check_minor_units
from shared.services.errors import ArImportError

__all__ = ["COLUMNS", "OPTIONAL", "PROFILE_COLUMNS", "REQUIRED", "ArImportError", "ArRow", "Status", "parse_rows"]

REQUIRED = ("customer_id", "invoice_id", "issue_date", "due_date", "amount", "currency")
OPTIONAL = ("paid_amount", "disputed_amount", "status", "customer_name", "contact_email", "language", "updated_at")
COLUMNS = REQUIRED + OPTIONAL
Status = Literal["open", "partially_paid", "paid", "disputed", "written_off", "void"]
PROFILE_COLUMNS = {"customer_name": "name", "contact_email": "contact_email", "language": "language"}
_ZERO = Decimal(0)


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
