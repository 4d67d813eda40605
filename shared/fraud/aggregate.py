"""The incremental usage aggregator: usage lines folded into per-customer, per-consuming-subscription
daily series (pure; idempotent under re-delivery)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from shared.fraud.models import (
    ZERO,
    CustomerSeries,
    DailySpend,
    FraudEvent,
    History,
    MeterAmount,
    UsageLine,
    _new,
)


def unit_of(line: UsageLine) -> str:
    """The consuming subscription a line bills: the Azure subscription it names, else the subscription."""
    return line.entitlement_id or line.subscription_id


def _roll_up(
    customer_id: str,
    subscription_id: str | None,
    day: date,
    currency: str,
    meters: dict[str, MeterAmount],
    entitlement_id: str = "",
) -> DailySpend:
    by_category: dict[str, Decimal] = {}
    by_region: dict[str, Decimal] = {}
    by_meter: dict[str, Decimal] = {}
    total = ZERO
    for m in meters.values():
        total += m.amount
        by_category[m.meter_category] = by_category.get(m.meter_category, ZERO) + m.amount
        by_region[m.region] = by_region.get(m.region, ZERO) + m.amount
        label = f"{m.meter_category}|{m.meter_sub_category}|{m.meter_name}"
        by_meter[label] = by_meter.get(label, ZERO) + m.amount
    return _new(
        DailySpend,
        customer_id=customer_id,
        subscription_id=subscription_id,
        entitlement_id=entitlement_id,
        day=day,
        currency=currency,
        total=total,
        by_category=by_category,
        by_region=by_region,
        by_meter=by_meter,
        meters=meters,
    )


def _customer_day(customer_id: str, day: date, currency: str, subs: Iterable[DailySpend]) -> DailySpend:
    by_category: dict[str, Decimal] = {}
    by_region: dict[str, Decimal] = {}
    by_meter: dict[str, Decimal] = {}
    total = ZERO
    for s in subs:
        total += s.total
        for k, v in s.by_category.items():
            by_category[k] = by_category.get(k, ZERO) + v
        for k, v in s.by_region.items():
            by_region[k] = by_region.get(k, ZERO) + v
        for k, v in s.by_meter.items():
            by_meter[k] = by_meter.get(k, ZERO) + v
    return _new(
        DailySpend,
        customer_id=customer_id,
        subscription_id=None,
        entitlement_id="",
        day=day,
        currency=currency,
        total=total,
        by_category=by_category,
        by_region=by_region,
        by_meter=by_meter,
        meters={},
    )


def aggregate(lines: Iterable[UsageLine], into: History | None = None) -> History:
    """Fold usage lines into a new ``History`` (the input is not modified).

    Usage is kept per consuming subscription (``unit_of``: the Azure subscription a line names, else the
    Partner Center subscription), so twenty new Azure subscriptions under one plan are twenty new series.
    Idempotent under re-delivery: the last read of a (consuming subscription, day, meter) replaces earlier
    reads, so re-reading a day, or a revised line for it, never double counts. A day stored before usage was
    kept per Azure subscription (under the plan's id) is superseded by the first re-read naming one.
    """
    base = into or History()
    touched: dict[tuple[str, str, date], dict[str, MeterAmount]] = {}
    owner: dict[str, tuple[str, str]] = {}
    superseded: dict[str, set[tuple[str, date]]] = {}
    names: dict[str, tuple[str, str]] = {}
    for line in lines:
        unit = unit_of(line)
        key = (line.customer_id, unit, line.usage_date)
        meters = touched.get(key)
        if meters is None:
            series = base.customers.get(line.customer_id)
            old = series.subscriptions.get(unit, {}).get(line.usage_date) if series else None
            meters = dict(old.meters) if old else {}
            touched[key] = meters
            owner[unit] = (line.subscription_id, line.entitlement_id if unit != line.subscription_id else "")
            if unit != line.subscription_id:
                superseded.setdefault(line.customer_id, set()).add((line.subscription_id, line.usage_date))
        meters[line.meter_key] = _new(
            MeterAmount,
            meter_category=line.meter_category,
            meter_sub_category=line.meter_sub_category,
            meter_name=line.meter_name,
            region=line.resource_location.lower(),
            quantity=line.quantity,
            amount=line.billing_pre_tax_total,
        )
        names[line.customer_id] = (line.customer_name, line.pricing_currency)
    if not touched:
        return base

    by_customer: dict[str, list[tuple[str, date, dict[str, MeterAmount]]]] = {}
    for (cust, sub, day), meters in touched.items():
        by_customer.setdefault(cust, []).append((sub, day, meters))

    customers = dict(base.customers)
    for cust, items in by_customer.items():
        old_series = customers.get(cust)
        name, currency = names[cust]
        subs = {k: dict(v) for k, v in old_series.subscriptions.items()} if old_series else {}
        days_touched: set[date] = set()
        for sub, day, meters in items:
            plan, entitlement = owner[sub]
            subs.setdefault(sub, {})[day] = _roll_up(cust, plan, day, currency, meters, entitlement)
            days_touched.add(day)
        for plan, day in superseded.get(cust, ()):
            stale = subs.get(plan, {}).get(day)
            if stale is not None and not stale.entitlement_id and (cust, plan, day) not in touched:
                del subs[plan][day]
                days_touched.add(day)
        subs = {k: v for k, v in subs.items() if v}
        daily = dict(old_series.daily) if old_series else {}
        for day in days_touched:
            daily[day] = _customer_day(cust, day, currency, (s[day] for s in subs.values() if day in s))
        customers[cust] = _new(
            CustomerSeries,
            customer_id=cust,
            customer_name=name or (old_series.customer_name if old_series else ""),
            currency=currency,
            subscriptions=subs,
            daily=daily,
        )
    return _new(History, customers=customers, fraud_events=base.fraud_events)


def with_fraud_events(history: History, events: Iterable[FraudEvent]) -> History:
    """A new ``History`` with these events added (same event id: the later one wins)."""
    merged = {
        (e.event_id or f"{e.subscription_id}|{e.event_time.isoformat()}"): e for e in history.fraud_events
    }
    for e in events:
        merged[e.event_id or f"{e.subscription_id}|{e.event_time.isoformat()}"] = e
    return History(customers=history.customers, fraud_events=tuple(merged.values()))
