"""Input models of the fraud engine and the incremental usage aggregator.

Money is kept as ``Decimal`` plus an ISO currency string (``shared.domain`` does not exist yet).
Everything here is pure: no I/O, no clock, no environment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

ZERO = Decimal(0)
_T = TypeVar("_T")
_M = TypeVar("_M", bound=BaseModel)


class lazy(Generic[_T]):
    """``cached_property`` without its per-access lock (Python 3.11): computed once, then a plain
    instance attribute. Only for derived values of immutable models."""

    def __init__(self, fn: Callable[[Any], _T]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> _T:
        if obj is None:
            return self  # type: ignore[return-value]
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


def _new(cls: type[_M], **values: Any) -> _M:
    """Build a model from already-valid values, much faster than ``model_construct`` (the aggregator's hot
    path builds one object per usage line); relies on pydantic v2's documented instance attributes."""
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


class _Camel(BaseModel):
    """Accepts Partner Center camelCase (and snake_case); keeps unknown fields."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True)


class UsageLine(_Camel):
    """One unbilled daily-rated usage line item (``invoicelineitemtype=usagelineitems``)."""

    customer_id: str
    customer_name: str = ""
    subscription_id: str  # the Partner Center subscription: for Azure usage, the Azure plan
    entitlement_id: str = ""  # the Azure subscription under the plan (daily-rated usage names it)
    entitlement_name: str = ""
    meter_category: str = ""
    meter_sub_category: str = ""
    meter_name: str = ""
    resource_location: str = ""
    usage_date: date
    quantity: Decimal = ZERO
    unit_price: Decimal = ZERO
    billing_pre_tax_total: Decimal
    pricing_currency: str = Field(
        default="CNY", validation_alias=AliasChoices("pricingCurrency", "pricing_currency")
    )

    @field_validator("usage_date", mode="before")
    @classmethod
    def _date_part(cls, value: Any) -> Any:
        """Partner Center sends ``2026-11-23T00:00:00Z``; usage is per day."""
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, str) and len(value) > 10:
            return value[:10]
        return value

    @property
    def meter_key(self) -> str:
        """Identity of a meter reading within a subscription-day: later reads of it replace earlier ones.

        Uses ``meterId`` (and ``resourceUri`` when present) because one meter can bill several resources
        and regions on the same day; falls back to the meter's names.
        """
        extra = self.model_extra or {}
        meter = extra.get("meterId") or f"{self.meter_category}|{self.meter_sub_category}|{self.meter_name}"
        resource = extra.get("resourceUri") or extra.get("instanceName") or ""
        return f"{meter}|{self.resource_location.lower()}|{resource}"


class MeterAmount(BaseModel):
    """The latest reading of one meter for one subscription-day."""

    model_config = ConfigDict(frozen=True, ignored_types=(lazy,))

    meter_category: str
    meter_sub_category: str = ""
    meter_name: str = ""
    region: str = ""
    quantity: Decimal = ZERO
    amount: Decimal


class DailySpend(BaseModel):
    """Spend of one consuming subscription (or, with ``subscription_id=None``, one customer) on one day.

    A consuming subscription is an Azure subscription (entitlement) under an Azure plan, or a Partner Center
    subscription billed directly (legacy Azure offer): ``subscription_id`` is always the Partner Center one,
    ``entitlement_id`` the Azure subscription when usage names one that differs from it.
    """

    model_config = ConfigDict(frozen=True, ignored_types=(lazy,))

    customer_id: str
    subscription_id: str | None = None
    entitlement_id: str = ""
    day: date
    currency: str
    total: Decimal
    by_category: dict[str, Decimal] = Field(default_factory=dict)
    by_region: dict[str, Decimal] = Field(default_factory=dict)
    by_meter: dict[str, Decimal] = Field(default_factory=dict)
    """Spend per meter label ``category|sub-category|name`` (regions and resources summed)."""
    meters: dict[str, MeterAmount] = Field(default_factory=dict)
    """Subscription level only: the latest reading of each meter (the unit of idempotent replacement)."""

    @lazy
    def memo(self) -> dict[Any, Any]:
        """Per-object cache of derived figures (the object is immutable)."""
        return {}

    @lazy
    def digest(self) -> str:
        """Short hash of the figures, for input fingerprints."""
        text = f"{self.day}|{self.total}|{sorted(self.by_meter.items())}|{sorted(self.by_region.items())}"
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


class SpendNotice(BaseModel):
    """A spend change the customer declared in advance (e.g. a planned migration).

    Either an expected daily spend or an expected factor over the customer's usual spend (or both: the
    higher expectation holds).
    """

    model_config = ConfigDict(frozen=True, ignored_types=(lazy,))

    valid_from: date
    valid_to: date
    expected_daily_spend: Decimal | None = None
    expected_factor: float | None = Field(None, gt=0)
    regions: tuple[str, ...] = ()
    """Regions the change will use, so first use of them is expected."""
    note: str = ""

    def covers(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to


class CustomerProfile(BaseModel):
    """What the partner knows about a customer besides usage.

    ``onboarded_at`` is when the tenant started with the partner (Partner Center's earliest subscription
    ``creationDate`` unless the partner declares one); ``subscriptions_created`` the ``creationDate`` of each
    Partner Center subscription. ``segment`` is None when the CRM knows nothing (the rules' default applies).
    """

    model_config = ConfigDict(frozen=True, ignored_types=(lazy,))

    customer_id: str
    name: str = ""
    segment: str | None = "default"
    onboarded_at: date | None = None
    subscriptions_created: dict[str, date] = Field(default_factory=dict)
    declared_monthly_spend: Decimal | None = None
    credit_limit: Decimal | None = None
    prepayment: Decimal | None = None
    outstanding_balance: Decimal = ZERO
    current_period_start: date | None = None
    next_invoice_date: date | None = None
    currency: str = "CNY"
    notices: tuple[SpendNotice, ...] = ()


class FraudEvent(_Camel):
    """A Partner Center fraud event (``/v1/fraudEvents``, global cloud profile only).

    Validates the documented JSON as served (``eventId``, ``customerTenantId``, ``subscriptionId``,
    ``eventStatus``, ``firstOccurrence``, ``lastOccurrence``); ``event_time`` is ``eventTime`` when
    sent, else the last (or first) occurrence.
    """

    event_id: str = Field(default="", validation_alias=AliasChoices("eventId", "id", "event_id"))
    event_name: str = ""
    event_type: str = Field(default="", validation_alias=AliasChoices("eventType", "fraudEventType", "event_type"))
    event_status: str = "Active"
    customer_tenant_id: str = Field(
        validation_alias=AliasChoices("customerTenantId", "customerId", "customer_id", "customer_tenant_id")
    )
    customer_name: str = ""
    subscription_id: str = ""
    service_name: str = ""
    resource_name: str = ""
    hit_count: int = 1
    event_time: datetime = Field(
        validation_alias=AliasChoices("eventTime", "lastOccurrence", "firstOccurrence", "event_time")
    )
    first_occurrence: datetime | None = None
    last_occurrence: datetime | None = None


class PeerBaseline(BaseModel):
    """Daily spend of established customers of one segment and size band, for customers without history."""

    model_config = ConfigDict(frozen=True, ignored_types=(lazy,))

    segment: str
    band: str = "*"
    median_daily: Decimal
    p90_daily: Decimal
    customers: int
    p90_subscriptions: int = 0
    """90th percentile of the consuming subscriptions these customers use (for bursts of new tenants)."""


def _series_floats(days: dict[date, DailySpend]) -> tuple[list[date], list[float]]:
    keys = sorted(days)
    return keys, [float(days[d].total) for d in keys]


class CustomerSeries(BaseModel):
    """Daily spend of one customer: per subscription and for the whole customer."""

    model_config = ConfigDict(frozen=True, ignored_types=(lazy,))

    customer_id: str
    customer_name: str = ""
    currency: str = "CNY"
    subscriptions: dict[str, dict[date, DailySpend]] = Field(default_factory=dict)
    daily: dict[date, DailySpend] = Field(default_factory=dict)

    @lazy
    def floats(self) -> tuple[list[date], list[float]]:
        """Sorted days and totals as floats: computed once, reused by every detector."""
        return _series_floats(self.daily)

    @lazy
    def by_day(self) -> dict[date, float]:
        """Daily totals as floats, by day."""
        return dict(zip(*self.floats, strict=True))

    @lazy
    def memo(self) -> dict[Any, Any]:
        """Per-series cache of derived figures (the series is immutable, so they never go stale)."""
        return {}

    @lazy
    def first_seen(self) -> dict[str, date]:
        """First usage day of each consuming subscription (Azure subscription or Partner Center one)."""
        return {sub: min(days) for sub, days in self.subscriptions.items() if days}

    @lazy
    def owners(self) -> dict[str, tuple[str, str]]:
        """Consuming subscription -> (Partner Center subscription, Azure subscription or "")."""
        out: dict[str, tuple[str, str]] = {}
        for key, days in self.subscriptions.items():
            spend = next(iter(days.values()), None)
            out[key] = (spend.subscription_id or key, spend.entitlement_id) if spend else (key, "")
        return out

    def unit_by_day(self, unit: str) -> dict[date, float]:
        """Daily totals of one consuming subscription as floats (memoised)."""
        key = ("unit", unit)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = {d: float(v.total) for d, v in self.subscriptions.get(unit, {}).items()}
        return found


class History(BaseModel):
    """Everything the detectors read: daily spend series per customer and fraud events."""

    model_config = ConfigDict(frozen=True, ignored_types=(lazy,))

    customers: dict[str, CustomerSeries] = Field(default_factory=dict)
    fraud_events: tuple[FraudEvent, ...] = ()
