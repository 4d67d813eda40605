"""Domain value objects shared by every area: money, identifiers, payment events. No I/O."""

from shared.domain.errors import DomainError
from shared.domain.events import (
    CreditLimit,
    CustomerUpdated,
    DisputeResolved,
    InvoiceAdjusted,
    InvoiceCredited,
    InvoiceDisputed,
    InvoiceIssued,
    InvoiceWrittenOff,
    PaymentEvent,
    PaymentInTransit,
    PaymentReceived,
    parse_event,
)
from shared.domain.ids import CustomerId, EventId, InvalidCustomerId, InvoiceId, PaymentId, normalise_customer_id
from shared.domain.money import Currency, CurrencyMismatch, Money

__all__ = [
    "CreditLimit",
    "Currency",
    "CurrencyMismatch",
    "CustomerId",
    "CustomerUpdated",
    "DisputeResolved",
    "DomainError",
    "EventId",
    "InvalidCustomerId",
    "InvoiceAdjusted",
    "InvoiceCredited",
    "InvoiceDisputed",
    "InvoiceId",
    "InvoiceIssued",
    "InvoiceWrittenOff",
    "Money",
    "PaymentEvent",
    "PaymentId",
    "PaymentInTransit",
    "PaymentReceived",
    "normalise_customer_id",
    "parse_event",
]
