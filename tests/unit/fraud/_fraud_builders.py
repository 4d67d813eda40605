"""Builders for fraud engine tests: compact usage lines, histories and a fixed clock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from shared.fraud import CustomerProfile, History, UsageLine, aggregate, parse_rules

DAY0 = date(2026, 9, 1)
VM = ("Virtual Machines", "Dv3/DSv3 Series", "D4s v3")
GPU = ("Virtual Machines", "NCv3 Series", "NC6s v3")

RULES_TEXT = """
version: "t-1"
default_segment: smb
lists:
  allow: {customers: [allowed], subscriptions: [sub-allowed]}
  block: {customers: [blocked]}
rules:
  - id: spike.review
    detector: spend_spike
    outcome: review
    params: {z_threshold: 6, min_ratio: 2.5, min_amount: 500}
    segments:
      enterprise: {min_amount: 50000}
  - id: spike.contain
    detector: spend_spike
    outcome: contain
    params: {z_threshold: 20, min_ratio: 8, min_amount: 3000}
  - id: spike.shadow
    detector: spend_spike
    outcome: contain
    shadow: true
    params: {z_threshold: 3, min_ratio: 1.5, min_amount: 100}
  - id: new-customer.review
    detector: new_customer
    outcome: review
  - id: risky.review
    detector: risky_meter
    outcome: review
  - id: region.review
    detector: new_region
    outcome: review
  - id: burst.review
    detector: subscription_burst
    outcome: review
  - id: velocity.review
    detector: velocity
    outcome: review
  - id: event.contain
    detector: fraud_event
    outcome: contain
"""
RULES = parse_rules(RULES_TEXT)


def d(n: int) -> date:
    return DAY0 + timedelta(days=n)


def morning_after(n: int) -> datetime:
    """The assessment run that sees usage day ``n``."""
    return datetime.combine(d(n + 1), datetime.min.time()).replace(hour=6)


def line(
    customer: str,
    sub: str,
    day: int,
    amount: float | str,
    meter: tuple[str, str, str] = VM,
    region: str = "chinanorth2",
    **extra: str,
) -> UsageLine:
    return UsageLine.model_validate(
        {
            "customerId": customer,
            "customerName": customer.upper(),
            "subscriptionId": sub,
            "meterCategory": meter[0],
            "meterSubCategory": meter[1],
            "meterName": meter[2],
            "resourceLocation": region,
            "usageDate": f"{d(day).isoformat()}T00:00:00Z",
            "quantity": "1",
            "unitPrice": str(amount),
            "billingPreTaxTotal": str(amount),
            "pricingCurrency": "CNY",
            **extra,
        }
    )


def steady(
    customer: str, days: Iterable[int], amount: float = 100.0, sub: str | None = None
) -> list[UsageLine]:
    """A customer spending the same amount every day (a flat, clean baseline)."""
    return [line(customer, sub or f"{customer}-s1", n, amount) for n in days]


def history(*lines: Iterable[UsageLine]) -> History:
    out = History()
    for batch in lines:
        out = aggregate(batch, out)
    return out


def profile(customer: str, **kw: object) -> CustomerProfile:
    kw.setdefault("onboarded_at", DAY0)
    return CustomerProfile(customer_id=customer, **kw)  # type: ignore[arg-type]


MONEY = Decimal
