"""Spend detectors: a spike over the customer's (or one subscription's) own baseline, and a new tenant
spending far above its declared or peer baseline."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, timedelta

from shared.fraud.context import Context, drivers, history_days, notices, signal, tenant_age, today
from shared.fraud.explain import Language, basis_text, label
from shared.fraud.models import DailySpend
from shared.fraud.params import NewCustomerParams, SpikeParams
from shared.fraud.peers import ALL, peer_for
from shared.fraud.signals import Detector, Signal
from shared.fraud.stats import money, robust_center_scale


def days_to_month_end(d: date) -> int:
    return calendar.monthrange(d.year, d.month)[1] - d.day


def month_position_refs(by_day: Mapping[date, float], day: date, months: int = 2) -> list[float]:
    """Peak spend at the same distance from month end (±1 day, same month) in earlier months."""
    refs: list[float] = []
    pos = days_to_month_end(day)
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


def _baseline(by_day: Mapping[date, float], day: date, first: date, p: SpikeParams, lang: Language
              ) -> tuple[list[float], list[date], str]:
    weeks = [day - timedelta(weeks=k) for k in range(1, p.lookback_weeks + 1)]
    weeks = [d for d in weeks if d >= first]
    if len(weeks) >= p.min_same_weekday:
        return [by_day.get(d, 0.0) for d in weeks], weeks, basis_text("same_weekday", lang, n=len(weeks))
    span = [day - timedelta(days=k) for k in range(1, p.fallback_days + 1)]
    span = [d for d in span if d >= first]
    return [by_day.get(d, 0.0) for d in span], span, basis_text("last_days", lang, n=len(span))


def _familiar_share(spend: Mapping[date, DailySpend], day: date, base_days: list[date]) -> float:
    """Share of the day's spend on meters and regions already used on the baseline days: a batch run on the
    usual resources (a calendar effect) is familiar; misuse usually brings meters or regions of its own."""
    cur = spend.get(day)
    if cur is None or cur.total <= 0:
        return 1.0
    seen_m = {k for d in base_days if d in spend for k in spend[d].by_meter}
    seen_r = {k for d in base_days if d in spend for k in spend[d].by_region}
    new_m = sum(float(v) for k, v in cur.by_meter.items() if k not in seen_m)
    new_r = sum(float(v) for k, v in cur.by_region.items() if k not in seen_r)
    return 1.0 - max(new_m, new_r) / float(cur.total)


def _spike(ctx: Context, p: SpikeParams, by_day: Mapping[date, float], spend: Mapping[date, DailySpend],
           unit: str | None) -> Signal | None:
    x = by_day.get(ctx.day)
    if x is None or x < float(p.min_amount):
        return None  # whatever the baseline (>= 0), the rise cannot reach min_amount
    first = min(by_day)
    if (ctx.day - first).days < p.min_history_days:
        return None
    lang = ctx.language
    base, base_days, basis = _baseline(by_day, ctx.day, first, p, lang)
    m, scale = robust_center_scale(base, p.rel_scale_floor, 1.0)
    z, ratio = (x - m) / scale, x / max(m, 1e-9)
    declared = notices(ctx)
    min_ratio, tolerance_note = p.min_ratio, ""
    if declared:
        n = declared[0]
        expected = max(float(n.expected_daily_spend or 0) * (1.0 if unit is None else 0.0),
                       m * (n.expected_factor or 1.0))
        if x <= expected * p.notice_tolerance or x - expected < float(p.min_amount):
            return None
        m, basis = expected, basis_text("notice", lang, from_=n.valid_from, to=n.valid_to)
        ratio, z = x / max(expected, 1e-9), p.z_threshold
    else:
        if x - m < float(p.min_amount) or z < p.z_threshold or ratio < min_ratio:
            return None
        refs = month_position_refs(by_day, ctx.day)
        if refs and x <= p.month_end_tolerance * max(refs):
            return None
        if (not refs and days_to_month_end(ctx.day) < p.month_end_days
                and _familiar_share(spend, ctx.day, base_days) >= p.familiar_share):
            # the first month end in the history: a batch on the usual meters and regions is a calendar
            # effect until it exceeds the month-end tolerance
            min_ratio = p.min_ratio * p.month_end_tolerance
            if ratio < min_ratio:
                return None
            tolerance_note = basis_text("month_end", lang, tol=p.month_end_tolerance)
    series = ctx.series
    assert series is not None
    units = [unit] if unit else drivers(
        {u: float(s[ctx.day].total) for u, s in series.subscriptions.items() if ctx.day in s},
        ({u: float(s[d].total) for u, s in series.subscriptions.items() if d in s} for d in base_days))
    cur = spend[ctx.day]
    before = [spend[d] for d in base_days if d in spend]
    threshold = f">= {min_ratio:g}x, +{money(p.min_amount)}, >= {label('variation', lang, z=f'{p.z_threshold:g}')}"
    return signal(
        ctx, Detector.SPEND_SPIKE, "spend_spike_unit" if unit else "spend_spike",
        observed=x, threshold=threshold, baseline=m, basis=basis + tolerance_note, at_stake=x - m,
        units=units,
        meters=drivers(cur.by_meter, (b.by_meter for b in before)),
        regions=drivers(cur.by_region, (b.by_region for b in before)),
        figures={"ratio": round(ratio, 2), "robust_z": round(z, 2), "level": "subscription" if unit else "customer"},
        ref=f"unit:{unit}" if unit else "",
    )


def detect_spend_spike(ctx: Context, p: SpikeParams) -> list[Signal]:
    """Spend far above the customer's own baseline; else far above one consuming subscription's own
    baseline (misuse inside a large customer is not averaged away by its other subscriptions)."""
    if today(ctx) is None or ctx.series is None:
        return []
    series = ctx.series
    whole = _spike(ctx, p, series.by_day, series.daily, None)
    if whole is not None:
        return [whole]
    if not p.per_subscription or len(series.subscriptions) < 2:
        return []
    if any(n.expected_factor is None for n in notices(ctx)):
        return []  # a declared customer-level spend: the customer's total was judged against it above
    out = []
    floor = p.min_amount
    for unit, days in sorted(series.subscriptions.items()):
        if ctx.day in days and days[ctx.day].total >= floor:
            hit = _spike(ctx, p, series.unit_by_day(unit), days, unit)
            if hit is not None:
                out.append(hit)
    return out


def _expected_daily(ctx: Context, p: NewCustomerParams, segment: str) -> tuple[float, str] | None:
    prof, lang = ctx.profile, ctx.language
    declared = float(prof.declared_monthly_spend) / 30.0 if prof and prof.declared_monthly_spend else None
    if declared is not None:
        return declared, basis_text("declared_spend", lang)
    # the CRM names the segment: its customers of any size are peers; without CRM data nothing says the tenant
    # is large, so it is compared with the segment's typical size band
    known = prof is not None and prof.segment is not None
    peer = (ctx.peers.get((segment, ALL)) if known else None) or peer_for(ctx.peers, segment, None)
    if peer is not None:
        value = peer.p90_daily if p.peer_statistic == "p90" else peer.median_daily
        return float(value), basis_text("peers", lang, stat=p.peer_statistic, segment=peer.segment,
                                        band=peer.band, n=peer.customers)
    if p.fallback_daily is not None:
        return float(p.fallback_daily), basis_text("fallback", lang)
    return None


def detect_new_customer(ctx: Context, p: NewCustomerParams) -> list[Signal]:
    """A tenant younger than ``max_history_days`` (by Partner Center's creation date, else by its usage)
    spending far above its declared spend or its peers' (same segment, same size band)."""
    x = today(ctx)
    if x is None or ctx.series is None or tenant_age(ctx) >= p.max_history_days:
        return []
    segment = ctx.segment
    ref = _expected_daily(ctx, p, segment)
    if ref is None:
        return []
    base, basis = ref
    days, vals = ctx.series.floats
    n = history_days(ctx) + 1
    cumulative = sum(v for d, v in zip(days, vals, strict=True) if d <= ctx.day)
    daily_hit = x >= p.min_ratio * base and x - base >= float(p.min_amount)
    cum_hit = cumulative >= p.cumulative_ratio * base * n and cumulative - base * n >= float(p.min_amount)
    if not (daily_hit or cum_hit):
        return []
    series = ctx.series
    cur = series.daily[ctx.day]
    return [signal(
        ctx, Detector.NEW_CUSTOMER, "new_customer", observed=x,
        threshold=f">= {p.min_ratio:g}x a day or {p.cumulative_ratio:g}x cumulative, +{money(p.min_amount)}",
        baseline=base, basis=basis, at_stake=cumulative - base * n,
        units=[u for u, s in series.subscriptions.items() if ctx.day in s],
        meters=drivers(cur.by_meter, ()), regions=drivers(cur.by_region, ()),
        figures={"cumulative": money(cumulative), "days_of_usage": n, "tenant_age_days": tenant_age(ctx)},
        n=tenant_age(ctx) + 1,
    )]
