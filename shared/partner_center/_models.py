"""Typed views of Partner Center resources.

Models accept unknown fields (the API grows) and unknown status values (``expired`` and
``disabled`` broke SDKs with closed enums). Updates are sent from the raw JSON as read, never
from these models, so nothing the service returned is dropped or reformatted.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class OpenStrEnum(StrEnum):
    """A str enum that matches case-insensitively and admits values it has never seen."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        lowered = value.lower()
        for member in cls:
            if member.value.lower() == lowered:
                return member
        pseudo = str.__new__(cls, value)
        pseudo._name_ = value.upper()
        pseudo._value_ = value
        return pseudo

    @property
    def is_known(self) -> bool:
        return self._name_ in type(self).__members__


class SubscriptionStatus(OpenStrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"
    PENDING = "pending"
    NONE = "none"
    EXPIRED = "expired"
    DISABLED = "disabled"


class FraudEventStatus(OpenStrEnum):
    ACTIVE = "Active"
    INVESTIGATING = "Investigating"
    RESOLVED = "Resolved"


class PcModel(BaseModel):
    """camelCase on the wire, snake_case in Python, extra fields kept."""

    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True, frozen=True)

    attributes: dict[str, Any] = Field(default_factory=dict)

    @property
    def etag(self) -> str | None:
        value = self.attributes.get("etag")
        return str(value) if value else None


class CompanyProfile(PcModel):
    tenant_id: str | None = None
    domain: str | None = None
    company_name: str | None = None


class Customer(PcModel):
    id: str
    company_profile: CompanyProfile = Field(default_factory=CompanyProfile)
    relationship_to_partner: str | None = None

    @property
    def name(self) -> str:
        return self.company_profile.company_name or self.company_profile.domain or self.id


class Subscription(PcModel):
    id: str
    offer_id: str | None = None
    offer_name: str | None = None
    friendly_name: str | None = None
    quantity: int | None = None
    unit_type: str | None = None
    status: SubscriptionStatus = SubscriptionStatus.NONE
    parent_subscription_id: str | None = None
    billing_type: str | None = None
    billing_cycle: str | None = None
    term_duration: str | None = None
    auto_renew_enabled: bool | None = None
    creation_date: datetime | None = None
    effective_start_date: datetime | None = None
    commitment_end_date: datetime | None = None
    suspension_reasons: list[str] = Field(default_factory=list)
    order_id: str | None = None

    @property
    def is_addon(self) -> bool:
        return bool(self.parent_subscription_id)


class AddOn(Subscription):
    """An add-on is a subscription whose ``parent_subscription_id`` names its base subscription."""


class UsageLineItem(PcModel):
    """One unbilled daily-rated usage line (``/invoices/unbilled/lineitems``)."""

    customer_id: str | None = None
    customer_name: str | None = None
    subscription_id: str | None = Field(
        default=None, validation_alias=AliasChoices("subscriptionId", "subscription_id", "entitlementId")
    )
    product_id: str | None = None
    product_name: str | None = None
    meter_id: str | None = None
    meter_name: str | None = None
    meter_category: str | None = None
    resource_location: str | None = None
    usage_date: datetime | None = None
    quantity: Decimal | None = None
    unit_of_measure: str | None = None
    unit_price: Decimal | None = None
    billing_pre_tax_total: Decimal | None = None
    pricing_currency: str | None = None
    currency: str | None = None


class Invoice(PcModel):
    id: str
    invoice_date: datetime | None = None
    total_charges: Decimal | None = None
    paid_amount: Decimal | None = None
    currency_code: str | None = None
    invoice_type: str | None = None
    due_date: datetime | None = None


class FraudEvent(PcModel):
    """Global cloud only (``/v1/fraudEvents``; App+User authentication), with the documented field
    names: ``eventId``, ``customerTenantId``, ``subscriptionId``, ``eventStatus``, ``firstOccurrence``,
    ``lastOccurrence`` (older spellings are accepted too)."""

    event_id: str | None = Field(default=None, validation_alias=AliasChoices("eventId", "id", "event_id"))
    customer_tenant_id: str | None = Field(
        default=None, validation_alias=AliasChoices("customerTenantId", "customerId", "customer_tenant_id")
    )
    customer_name: str | None = None
    subscription_id: str | None = None
    event_name: str | None = None
    event_type: str | None = Field(
        default=None, validation_alias=AliasChoices("eventType", "fraudEventType", "event_type")
    )
    event_status: FraudEventStatus | None = None
    event_time: datetime | None = None
    first_occurrence: datetime | None = Field(
        default=None, validation_alias=AliasChoices("firstOccurrence", "firstOccurrenceDate", "first_occurrence")
    )
    last_occurrence: datetime | None = Field(
        default=None, validation_alias=AliasChoices("lastOccurrence", "lastOccurrenceDate", "last_occurrence")
    )
    hit_count: int | None = None
    service_name: str | None = None
    resource_name: str | None = None
    resource_group_name: str | None = None
    resolved_reason: str | None = None

    # The names this model had before the documented ones (kept for existing callers).
    @property
    def id(self) -> str | None:
        return self.event_id

    @property
    def customer_id(self) -> str | None:
        return self.customer_tenant_id

    @property
    def first_occurrence_date(self) -> datetime | None:
        return self.first_occurrence

    @property
    def last_occurrence_date(self) -> datetime | None:
        return self.last_occurrence

    @property
    def occurred_at(self) -> datetime | None:
        """When it was seen last: ``eventTime`` if sent, else the last (or first) occurrence."""
        return self.event_time or self.last_occurrence or self.first_occurrence


class ChangeResult(BaseModel):
    """What one suspend/reactivate did to one subscription (returned, not only logged)."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    subscription_id: str
    is_addon: bool = False
    target: SubscriptionStatus
    before: SubscriptionStatus
    after: SubscriptionStatus
    changed: bool
    etag_retries: int = 0

    @property
    def ok(self) -> bool:
        """True when the re-read status is the one asked for."""
        return self.after == self.target
