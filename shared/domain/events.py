"""Payment events: the facts the collections ledger is built from.

Each event carries a producer-assigned ``event_id`` (the idempotency key), the ``customer_id`` it
belongs to and ``occurred_at`` (timezone-aware). ``PaymentEvent`` is a union discriminated on
``type``; ``parse_event`` validates one JSON object strictly (unknown fields are errors).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from shared.domain.ids import CustomerId, EventId, InvoiceId, PaymentId
from shared.domain.money import Currency, DecimalStr, _no_float


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


Amount = Annotated[DecimalStr, BeforeValidator(_no_float), Field(allow_inf_nan=False, max_digits=20)]
"""A signed money amount: Decimal, never float."""
PositiveAmount = Annotated[Amount, AfterValidator(_positive)]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Language = Literal["en", "zh-CN"]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: EventId
    customer_id: CustomerId
    occurred_at: AwareDatetime


class InvoiceIssued(_Event):
    type: Literal["invoice.issued"] = "invoice.issued"
    invoice_id: InvoiceId
    amount: PositiveAmount
    currency: Currency
    issue_date: date
    due_date: date

    @model_validator(mode="after")
    def _due_after_issue(self) -> InvoiceIssued:
        if self.due_date < self.issue_date:
            raise ValueError(f"due_date {self.due_date} is before issue_date {self.issue_date}")
        return self


class InvoiceAdjusted(_Event):
    """A change of an invoice's amount: either a ``new_amount`` or a signed ``delta``, not both."""

    type: Literal["invoice.adjusted"] = "invoice.adjusted"
    invoice_id: InvoiceId
    new_amount: Amount | None = None
    delta: Amount | None = None
    reason: Text

    @model_validator(mode="after")
    def _exactly_one(self) -> InvoiceAdjusted:
        if (self.new_amount is None) == (self.delta is None):
            raise ValueError("give exactly one of new_amount or delta")
        if self.new_amount is not None and self.new_amount < 0:
            raise ValueError("new_amount must not be negative")
        return self


class InvoiceCredited(_Event):
    """A credit note against one invoice (in the invoice's currency)."""

    type: Literal["invoice.credited"] = "invoice.credited"
    invoice_id: InvoiceId
    credit_note_id: Text | None = None
    amount: PositiveAmount


class PaymentReceived(_Event):
    """Money received; ``invoice_id`` absent means unallocated (applied oldest-due-first)."""

    type: Literal["payment.received"] = "payment.received"
    payment_id: PaymentId
    amount: PositiveAmount
    currency: Currency
    received_at: AwareDatetime
    invoice_id: InvoiceId | None = None


class PaymentInTransit(_Event):
    """The customer says the money is on its way: hold harmful actions until ``hold_until``."""

    type: Literal["payment.in_transit"] = "payment.in_transit"
    reference: Text
    hold_until: date
    amount: PositiveAmount | None = None
    currency: Currency | None = None


class InvoiceDisputed(_Event):
    """A dispute of ``amount`` of an invoice, or of all of it when ``amount`` is absent."""

    type: Literal["invoice.disputed"] = "invoice.disputed"
    invoice_id: InvoiceId
    amount: PositiveAmount | None = None
    reason: Text | None = None


class DisputeResolved(_Event):
    """Outcome of the open dispute: ``upheld`` credits the disputed amount, ``rejected`` makes it payable
    again, ``partial`` credits ``amount`` and makes the rest payable."""

    type: Literal["dispute.resolved"] = "dispute.resolved"
    invoice_id: InvoiceId
    outcome: Literal["upheld", "rejected", "partial"]
    amount: PositiveAmount | None = None

    @model_validator(mode="after")
    def _amount_iff_partial(self) -> DisputeResolved:
        if (self.outcome == "partial") != (self.amount is not None):
            raise ValueError("amount is required for a partial outcome and not allowed otherwise")
        return self


class InvoiceWrittenOff(_Event):
    type: Literal["invoice.written_off"] = "invoice.written_off"
    invoice_id: InvoiceId


class CreditLimit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    amount: Annotated[Amount, Field(ge=0)]
    currency: Currency


Region = Annotated[str, BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v),
                   StringConstraints(pattern=r"^[a-z0-9]{2,40}$")]
"""An Azure region code as usage names it (``resourceLocation``, compared lower-case)."""


class PlannedChange(BaseModel):
    """A spend change the customer declared in advance (a migration, a launch): detection expects it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    starts_on: date
    ends_on: date
    expected_factor: Annotated[float, Field(gt=0, le=100)] | None = None
    expected_daily_spend: Annotated[Amount, Field(ge=0)] | None = None
    regions: Annotated[tuple[Region, ...], Field(max_length=20)] = ()
    note: Text | None = None

    @model_validator(mode="after")
    def _range(self) -> PlannedChange:
        if self.ends_on < self.starts_on or (self.ends_on - self.starts_on).days > 366:
            raise ValueError("ends_on must be on or after starts_on, at most 366 days later")
        if self.expected_factor is None and self.expected_daily_spend is None and not self.regions:
            raise ValueError("a planned change needs expected_factor, expected_daily_spend or regions")
        return self


class CustomerUpdated(_Event):
    """Profile changes; only the fields present are changed (the latest ``occurred_at`` wins per field).

    ``expected_monthly_spend``, ``prepayment``, ``planned_changes`` (replaces the list) and ``onboarded_on``
    are the declared baseline fraud detection compares usage with.
    """

    type: Literal["customer.updated"] = "customer.updated"
    name: Text | None = None
    credit_limit: CreditLimit | None = None
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] | None = None
    contact_email: Email | None = None
    language: Language | None = None
    country: CountryCode | None = None
    segment: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    expected_monthly_spend: CreditLimit | None = None
    prepayment: CreditLimit | None = None
    planned_changes: Annotated[tuple[PlannedChange, ...], Field(max_length=20)] | None = None
    onboarded_on: date | None = None

    @model_validator(mode="after")
    def _something_changes(self) -> CustomerUpdated:
        if not (self.model_fields_set & PROFILE_FIELDS):
            raise ValueError(f"customer.updated must set at least one of {sorted(PROFILE_FIELDS)}")
        return self


PROFILE_FIELDS = frozenset(
    {"name", "credit_limit", "payment_terms_days", "contact_email", "language", "country", "segment",
     "expected_monthly_spend", "prepayment", "planned_changes", "onboarded_on"}
)

PaymentEvent = Annotated[
    InvoiceIssued
    | InvoiceAdjusted
    | InvoiceCredited
    | PaymentReceived
    | PaymentInTransit
    | InvoiceDisputed
    | DisputeResolved
    | InvoiceWrittenOff
    | CustomerUpdated,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(PaymentEvent, config=ConfigDict(title="PaymentEvent"))


def parse_event(data: dict[str, Any] | str | bytes) -> PaymentEvent:
    """Validate one event from a dict or JSON text; raises ``pydantic.ValidationError`` naming each field."""
    if isinstance(data, str | bytes):
        return _ADAPTER.validate_json(data)
    return _ADAPTER.validate_python(data)
