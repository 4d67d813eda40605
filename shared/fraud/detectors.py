"""Detectors: pure functions ``(context, params) -> list[Signal]`` for one customer and one usage day.

A detector only reads usage days strictly before ``now``'s date (usage for today is never complete),
so replaying stored history with an earlier ``now`` cannot see the future.
"""

from __future__ import annotations

import calendar
import fnmatch
import re
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from shared.fraud.models import CustomerProfile, CustomerSeries, DailySpend, FraudEvent, PeerBaseline
from shared.fraud.params import (
    FraudEventParams,
    NewCustomerParams,
    NewRegionParams,
    Params,
    RiskyMeterParams,
    SpikeParams,
    SubscriptionBurstParams,
    VelocityParams,
)
from shared.fraud.signals import Detector, Signal
from shared.fraud.stats import money, robust_center_scale


@dataclass(frozen=True)
class Context:
    """What one detector run sees: one customer, one usage day, the clock passed in."""

    customer_id: str
    series: CustomerSeries | None
    profile: CustomerProfile | None
    day: date
    now: datetime
    peers: Mapping[str, PeerBaseline]
    events: tuple[FraudEvent, ...] = ()


def _today(ctx: Context) -> float | None:
    if ctx.series is None or ctx.day >= ctx.now.date():
        return None
    return ctx.series.by_day.get(ctx.day)


def _age_days(ctx: Context) -> int:
    """Days of usage history before the evaluated day (0 for a customer first seen that day)."""
    first = ctx.series.floats[0][0] if ctx.series and ctx.series.daily else ctx.day
    if ctx.profile and ctx.profile.onboarded_at and ctx.profile.onboarded_at > first:
        first = ctx.profile.onboarded_at
    return (ctx.day - first).days


def _notice(ctx: Context) -> Decimal | None:
    if ctx.profile is None:
        return None
    for n in ctx.profile.notices:
        if n.valid_from <= ctx.day <= n.valid_to:
            return n.expected_daily_spend
    return None


def _days_to_month_end(d: date) -> int:
    return calendar.monthrange(d.year, d.month)[1] - d.day


def _month_position_refs(by_day: Mapping[date, float], day: date, months: int = 2) -> list[float]:
    """Peak spend at the same distance from month end (±1 day, same month) in earlier months."""
    refs: list[float] = []
    pos = _days_to_month_end(day)
    year, month = day.year, day.month
    for _ in range(months):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        last = calendar.monthrange(year, month)[1]
        centre = date(year, month, max(1, last - pos))
        near = (centre + timedelta(days=k) for k in (-1, 0, 1))
        window = [by_day[d] for d in near if d.month == month and d in by_day]
        if window:
            refs.append(max(window))
    return refs


def detect_spend_spike(ctx: Context, p: SpikeParams) -> list[Signal]:
    """Spend far above the customer's own same-weekday baseline (median + MAD)."""
    x = _today(ctx)
    if x is None or ctx.series is None or _age_days(ctx) < p.min_history_days:
        return []
    by_day = ctx.series.by_day
    first = ctx.series.floats[0][0]
    declared = _notice(ctx)
    if declared is not None:
        expected = float(declared)
        if x <= expected * p.notice_tolerance or x - expected < float(p.min_amount):
            return []
        return [_spike_signal(ctx, x, expected, 0.0, "declared notice", x / max(expected, 1e-9))]
    same = [
        by_day.get(ctx.day - timedelta(weeks=k), 0.0)
        for k in range(1, p.lookback_weeks + 1)
        if ctx.day - timedelta(weeks=k) >= first
    ]
    if len(same) >= p.min_same_weekday:
        basis, base = f"same weekday, last {len(same)} weeks", same
    else:
        span = [ctx.day - timedelta(days=k) for k in range(1, p.fallback_days + 1)]
        base = [by_day.get(d, 0.0) for d in span if d >= first]
        basis = f"last {len(base)} days"
    m, scale = robust_center_scale(base, p.rel_scale_floor, 1.0)
    z = (x - m) / scale
    ratio = x / max(m, 1e-9)
    if x - m < float(p.min_amount) or z < p.z_threshold or ratio < p.min_ratio:
        return []
    refs = _month_position_refs(by_day, ctx.day)
    if refs and x <= p.month_end_tolerance * max(refs):
        return []
    return [_spike_signal(ctx, x, m, z, basis, ratio)]


def _spike_signal(ctx: Context, x: float, m: float, z: float, basis: str, ratio: float) -> Signal:
    top = ctx.series.daily[ctx.day].by_category if ctx.series else {}
    category = max(top, key=lambda k: top[k]) if top else ""
    return Signal(
        detector=Detector.SPEND_SPIKE,
        customer_id=ctx.customer_id,
        day=ctx.day,
        why=(
            f"why flagged: spend {money(x)} on {ctx.day} is {ratio:.1f}x the baseline {money(m)} "
            f"({basis}; robust z {z:.1f}); largest category {category or '-'}"
        ),
        figures={
            "spend": money(x),
            "baseline": money(m),
            "ratio": round(ratio, 2),
            "robust_z": round(z, 2),
            "basis": basis,
            "top_category": category,
        },
        amount_at_risk=money(max(x - m, 0.0)),
    )


def _peer_daily(ctx: Context, p: NewCustomerParams) -> tuple[float, str] | None:
    prof = ctx.profile
    if prof and prof.declared_monthly_spend is not None:
        return float(prof.declared_monthly_spend) / 30.0, "declared onboarding spend"
    segment = prof.segment if prof else "default"
    peer = ctx.peers.get(segment) or ctx.peers.get("default")
    if peer is not None:
        value = peer.p90_daily if p.peer_statistic == "p90" else peer.median_daily
        return float(
            value
        ), f"peers in segment {peer.segment} ({p.peer_statistic}, {peer.customers} customers)"
    if p.fallback_daily is not None:
        return float(p.fallback_daily), "configured fallback"
    return None


def detect_new_customer(ctx: Context, p: NewCustomerParams) -> list[Signal]:
    """A customer without enough history, spending far above its declared or peer baseline."""
    x = _today(ctx)
    if x is None or ctx.series is None or _age_days(ctx) >= p.max_history_days:
        return []
    ref = _peer_daily(ctx, p)
    if ref is None:
        return []
    base, basis = ref
    days, vals = ctx.series.floats
    n = _age_days(ctx) + 1
    cumulative = sum(v for d, v in zip(days, vals, strict=True) if d <= ctx.day)
    daily_hit = x >= p.min_ratio * base and x - base >= float(p.min_amount)
    cum_hit = cumulative >= p.cumulative_ratio * base * n and cumulative - base * n >= float(p.min_amount)
    if not (daily_hit or cum_hit):
        return []
    return [
        Signal(
            detector=Detector.NEW_CUSTOMER,
            customer_id=ctx.customer_id,
            day=ctx.day,
            why=(
                f"why flagged: new customer (day {n} of usage) spent {money(x)} on {ctx.day} and "
                f"{money(cumulative)} "
                f"so far, against an expected {money(base)} a day from {basis}"
            ),
            figures={
                "spend": money(x),
                "cumulative": money(cumulative),
                "days_of_usage": n,
                "expected_daily": money(base),
                "basis": basis,
            },
            amount_at_risk=money(max(cumulative - base * n, 0.0)),
        )
    ]


def _next_month_start(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def detect_velocity(ctx: Context, p: VelocityParams) -> list[Signal]:
    """Projected exposure at the next invoice date (burn rate x days left) against credit or prepayment."""
    prof = ctx.profile
    x = _today(ctx)
    if (
        x is None
        or prof is None
        or ctx.series is None
        or (prof.credit_limit is None and prof.prepayment is None)
    ):
        return []
    limit = float((prof.credit_limit or 0) + (prof.prepayment or 0))
    start = prof.current_period_start or ctx.day.replace(day=1)
    invoice = prof.next_invoice_date or _next_month_start(ctx.day)
    by_day = ctx.series.by_day
    days, vals = ctx.series.floats
    accrued = sum(v for d, v in zip(days, vals, strict=True) if start <= d <= ctx.day)
    # burn rate within the current period only: last period's month-end peak says little about this one
    burn_span = [
        ctx.day - timedelta(days=k) for k in range(p.burn_days) if ctx.day - timedelta(days=k) >= start
    ]
    burn = sum(by_day.get(d, 0.0) for d in burn_span) / max(len(burn_span), 1)
    days_left = max((invoice - ctx.day).days - 1, 0)
    projected = float(prof.outstanding_balance) + accrued + burn * days_left
    if projected < p.max_utilisation * limit or projected - limit < float(p.min_amount):
        return []
    return [
        Signal(
            detector=Detector.VELOCITY,
            customer_id=ctx.customer_id,
            day=ctx.day,
            why=(
                f"why flagged: projected exposure {money(projected)} at the {invoice} invoice is "
                f"{projected / max(limit, 1e-9):.0%} of the limit {money(limit)} "
                f"(accrued {money(accrued)}, burn "
                f"{money(burn)}/day for {days_left} days, outstanding {money(prof.outstanding_balance)})"
            ),
            figures={
                "projected_exposure": money(projected),
                "limit": money(limit),
                "accrued": money(accrued),
                "burn_rate": money(burn),
                "days_left": days_left,
                "next_invoice": invoice.isoformat(),
                "outstanding": money(prof.outstanding_balance),
            },
            amount_at_risk=money(max(projected - limit, 0.0)),
        )
    ]


@lru_cache(maxsize=64)
def _matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """Compiled, memoised test of a meter label ``category|sub-category|name`` against shell patterns."""
    rx = re.compile("|".join(fnmatch.translate(pt) for pt in patterns), re.IGNORECASE)

    @lru_cache(maxsize=4096)
    def match(label: str) -> bool:
        return any(rx.match(part) for part in label.split("|"))

    return match


def _risky_amount(spend: DailySpend, patterns: tuple[str, ...]) -> float:
    """Risky spend of one customer- or subscription-day, memoised on the (immutable) day object."""
    key = ("risky", patterns)
    value = spend.memo.get(key)
    if value is None:
        match = _matcher(patterns)
        value = spend.memo[key] = sum(float(a) for label, a in spend.by_meter.items() if match(label))
    return value


def detect_risky_meter(ctx: Context, p: RiskyMeterParams) -> list[Signal]:
    """GPU / HPC / ML spend well above the customer's own recent use of such meters."""
    if _today(ctx) is None or ctx.series is None or _age_days(ctx) < p.min_history_days:
        return []
    daily = ctx.series.daily
    amount = _risky_amount(daily[ctx.day], p.patterns)
    if amount < float(p.min_amount):
        return []
    prior = [daily.get(ctx.day - timedelta(days=k)) for k in range(1, p.baseline_days + 1)]
    base = max((_risky_amount(d, p.patterns) for d in prior if d is not None), default=0.0)
    if amount < p.min_ratio * base:
        return []
    subs = tuple(
        sorted(
            s
            for s, days in ctx.series.subscriptions.items()
            if ctx.day in days and _risky_amount(days[ctx.day], p.patterns) > 0
        )
    )
    return [
        Signal(
            detector=Detector.RISKY_METER,
            customer_id=ctx.customer_id,
            day=ctx.day,
            subscription_ids=subs,
            why=(
                f"why flagged: GPU/HPC/ML meters billed {money(amount)} on {ctx.day}; the highest day in the "
                f"previous {p.baseline_days} days was {money(base)}"
            ),
            figures={"risky_spend": money(amount), "previous_max": money(base), "subscriptions": len(subs)},
            amount_at_risk=money(amount - base),
        )
    ]


def _new_regions(series: CustomerSeries, day: date) -> dict[str, float]:
    """Regions billed on ``day`` and on no earlier day (scans back only until each region is found)."""
    pending = {r: float(a) for r, a in series.daily[day].by_region.items() if a > 0}
    days, _ = series.floats
    i = bisect_left(days, day)
    while pending and i > 0:
        i -= 1
        for r in series.daily[days[i]].by_region:
            pending.pop(r, None)
    return pending


def detect_new_region(ctx: Context, p: NewRegionParams) -> list[Signal]:
    """Spend in regions the customer never used before."""
    x = _today(ctx)
    if x is None or ctx.series is None or _age_days(ctx) < p.min_history_days:
        return []
    new = _new_regions(ctx.series, ctx.day)
    declared = {
        r.lower()
        for n in (ctx.profile.notices if ctx.profile else ())
        for r in n.regions
        if n.valid_from <= ctx.day <= n.valid_to
    }
    new = {r: a for r, a in new.items() if r not in declared}
    amount = sum(new.values())
    if not new or amount < float(p.min_amount) or amount < p.min_share * x:
        return []
    subs = tuple(
        sorted(
            s
            for s, days in ctx.series.subscriptions.items()
            if ctx.day in days and any(r in new for r in days[ctx.day].by_region)
        )
    )
    return [
        Signal(
            detector=Detector.NEW_REGION,
            customer_id=ctx.customer_id,
            day=ctx.day,
            subscription_ids=subs,
            why=(
                f"why flagged: {money(amount)} ({amount / max(x, 1e-9):.0%} of the day) in region(s) "
                f"{', '.join(sorted(new))} never used before"
            ),
            figures={
                "new_region_spend": money(amount),
                "share": round(amount / max(x, 1e-9), 3),
                "regions": ",".join(sorted(new)),
            },
            amount_at_risk=money(amount),
        )
    ]


def detect_subscription_burst(ctx: Context, p: SubscriptionBurstParams) -> list[Signal]:
    """Many subscriptions starting to consume within a short window."""
    if _today(ctx) is None or ctx.series is None:
        return []
    if not p.include_first_days and _age_days(ctx) < p.window_days:
        return []
    lo = ctx.day - timedelta(days=p.window_days - 1)
    new = sorted(s for s, d in ctx.series.first_seen.items() if lo <= d <= ctx.day)
    if len(new) < p.max_new:
        return []
    spend = sum(
        float(ctx.series.subscriptions[s][d].total)
        for s in new
        for d in ctx.series.subscriptions[s]
        if lo <= d <= ctx.day
    )
    return [
        Signal(
            detector=Detector.SUBSCRIPTION_BURST,
            customer_id=ctx.customer_id,
            day=ctx.day,
            subscription_ids=tuple(new),
            why=f"why flagged: {len(new)} subscriptions started consuming between {lo} and {ctx.day}",
            figures={
                "new_subscriptions": len(new),
                "window_days": p.window_days,
                "their_spend": money(spend),
            },
            amount_at_risk=money(spend),
        )
    ]


def detect_fraud_event(ctx: Context, p: FraudEventParams) -> list[Signal]:
    """Partner Center fraud events (global profile), mapped to signals; evaluated once per run (first day)."""
    statuses = {s.lower() for s in p.statuses}
    types = {t.lower() for t in p.event_types}
    out = []
    for e in ctx.events:
        if e.event_time > ctx.now or e.event_status.lower() not in statuses:
            continue
        if types and e.event_type.lower() not in types and e.event_name.lower() not in types:
            continue
        out.append(
            Signal(
                detector=Detector.FRAUD_EVENT,
                customer_id=ctx.customer_id,
                day=e.event_time.date(),
                subscription_ids=(e.subscription_id,) if e.subscription_id else (),
                ref=e.event_id,
                why=(
                    f"why flagged: Partner Center fraud event {e.event_name or e.event_type} "
                    f"({e.event_status}) on "
                    f"subscription {e.subscription_id or '-'}, {e.hit_count} hit(s) since "
                    f"{(e.first_occurrence or e.event_time).isoformat()}"
                ),
                figures={
                    "event_id": e.event_id,
                    "event": e.event_name or e.event_type,
                    "status": e.event_status,
                    "hit_count": e.hit_count,
                    "service": e.service_name,
                    "resource": e.resource_name,
                },
            )
        )
    return out


DetectorFn = Callable[[Context, Any], list[Signal]]

REGISTRY: dict[Detector, tuple[type[Params], DetectorFn]] = {
    Detector.SPEND_SPIKE: (SpikeParams, detect_spend_spike),
    Detector.NEW_CUSTOMER: (NewCustomerParams, detect_new_customer),
    Detector.VELOCITY: (VelocityParams, detect_velocity),
    Detector.RISKY_METER: (RiskyMeterParams, detect_risky_meter),
    Detector.NEW_REGION: (NewRegionParams, detect_new_region),
    Detector.SUBSCRIPTION_BURST: (SubscriptionBurstParams, detect_subscription_burst),
    Detector.FRAUD_EVENT: (FraudEventParams, detect_fraud_event),
}
"""Detector name -> (its parameter model, its function): the table the rules evaluator dispatches on."""
