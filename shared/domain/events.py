"""Payment events: the facts the collections ledger is built from.

Each event carries a producer-assigned ``event_id`` (the idempotency key), the ``customer_id`` it
belongs to and ``occurred_at`` (timezone-aware). ``PaymentEvent`` is a union discriminated on
``type``; ``parse_event`` validates one JSON object strictly (unknown fields are errors).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    model_validator,
)

from shared.domain.dates import Day, Instant
from shared.domain.ids import CustomerId, EventId, InvoiceId, PaymentId
from shared.domain.ingress import from_storage
from shared.domain.money import Currency, DecimalStr, check_minor_units, strict_amount


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


Amount = Annotated[DecimalStr, BeforeValidator(strict_amount), Field(allow_inf_nan=False, max_digits=20)]
"""A signed money amount: a decimal string on the wire (see ``strict_amount``), Decimal inside, never float."""
PositiveAmount = Annotated[Amount, AfterValidator(_positive)]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Language = Literal["en", "zh-CN"]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: EventId
    customer_id: CustomerId
    occurred_at: Instant


def _in_minor_units(amount: Decimal | None, currency: str | None, info: ValidationInfo) -> None:
    if amount is not None and currency is not None and not from_storage(info):
        check_minor_units(amount, currency)


class InvoiceIssued(_Event):
    type: Literal["invoice.issued"] = "invoice.issued"
    invoice_id: InvoiceId
    amount: PositiveAmount
    currency: Currency
    issue_date: Day
    due_date: Day

    @model_validator(mode="after")
    def _due_after_issue(self, info: ValidationInfo) -> InvoiceIssued:
        _in_minor_units(self.amount, self.currency, info)
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
    """Money received; ``invoice_id`` absent means unallocated (applied oldest-due-first).

    ``payment_id`` names one payment. A second event with the same ``payment_id`` and the same amount,
    currency, invoice and ``received_at`` is the producer's retry under a new ``event_id``: a no-op. With
    different content it is refused (kept as a dead letter with both versions in its reason) unless both
    are ``cumulative``: the total received so far under that id (the AR import's ``paid_amount``), where
    the later statement replaces the earlier one."""

    type: Literal["payment.received"] = "payment.received"
    payment_id: PaymentId
    amount: PositiveAmount
    currency: Currency
    received_at: Instant
    invoice_id: InvoiceId | None = None
    cumulative: bool = False

    @model_validator(mode="after")
    def _minor_units(self, info: ValidationInfo) -> PaymentReceived:
        _in_minor_units(self.amount, self.currency, info)
        return self


class PaymentInTransit(_Event):
    """The customer says the money is on its way: hold harmful actions until ``hold_until``."""

    type: Literal["payment.in_transit"] = "payment.in_transit"
    reference: Text
    hold_until: Day
    amount: PositiveAmount | None = None
    currency: Currency | None = None

    @model_validator(mode="after")
    def _minor_units(self, info: ValidationInfo) -> PaymentInTransit:
        _in_minor_units(self.amount, self.currency, info)
        return self


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

    @model_validator(mode="after")
    def _minor_units(self, info: ValidationInfo) -> CreditLimit:
        _in_minor_units(self.amount, self.currency, info)
        return self


Region = Annotated[str, BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v),
                   StringConstraints(pattern=r"^[a-z0-9]{2,40}$")]
"""An Azure region code as usage names it (``resourceLocation``, compared lower-case)."""


class PlannedChange(BaseModel):
    """A spend change the customer declared in advance (a migration, a launch): detection expects it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    starts_on: Day
    ends_on: Day
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
    onboarded_on: Day | None = None

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
