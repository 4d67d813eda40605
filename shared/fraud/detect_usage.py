"""Usage-shape detectors: GPU/HPC/ML meters, regions never used before, bursts of new subscriptions."""

from __future__ import annotations

import fnmatch
import re
from bisect import bisect_left
from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache

from shared.fraud.context import Context, drivers, history_days, known_new, notices, signal, tenant_age, today
from shared.fraud.explain import basis_text, label
from shared.fraud.models import CustomerSeries, DailySpend
from shared.fraud.params import NewRegionParams, RiskyMeterParams, SubscriptionBurstParams
from shared.fraud.peers import peer_for
from shared.fraud.signals import Detector, Signal
from shared.fraud.stats import money, robust_center_scale


@lru_cache(maxsize=64)
def _matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """Compiled, memoised test of a meter label ``category|sub-category|name`` against shell patterns."""
    rx = re.compile("|".join(fnmatch.translate(pt) for pt in patterns), re.IGNORECASE)

    @lru_cache(maxsize=4096)
    def match(label: str) -> bool:
        return any(rx.match(part) for part in label.split("|"))

    return match


def risky_amount(spend: DailySpend, patterns: tuple[str, ...]) -> float:
    """Risky spend of one customer- or subscription-day, memoised on the (immutable) day object."""
    key = ("risky", patterns)
    value = spend.memo.get(key)
    if value is None:
        match = _matcher(patterns)
        value = spend.memo[key] = sum(float(a) for label, a in spend.by_meter.items() if match(label))
    return value


def detect_risky_meter(ctx: Context, p: RiskyMeterParams) -> list[Signal]:
    """GPU / HPC / ML spend well above the customer's own recent use of such meters; for a tenant created
    less than ``min_history_days`` ago (Partner Center's creation date), any such spend above the minimum."""
    if today(ctx) is None or ctx.series is None:
        return []
    new_tenant = history_days(ctx) < p.min_history_days
    if new_tenant and not known_new(ctx, p.min_history_days):
        return []
    series = ctx.series
    amount = risky_amount(series.daily[ctx.day], p.patterns)
    if amount < float(p.min_amount):
        return []
    if new_tenant:
        base = 0.0
        basis = basis_text("new_tenant", ctx.language, created=ctx.profile.onboarded_at if ctx.profile else "-")
        threshold = f">= {money(p.min_amount)}"
    else:
        prior = [series.daily.get(ctx.day - timedelta(days=k)) for k in range(1, p.baseline_days + 1)]
        base = max((risky_amount(d, p.patterns) for d in prior if d is not None), default=0.0)
        if amount < p.min_ratio * base:
            return []
        basis = basis_text("prior_max", ctx.language, n=p.baseline_days)
        threshold = f">= {p.min_ratio:g}x, >= {money(p.min_amount)}"
    match = _matcher(p.patterns)
    units = [u for u, days in series.subscriptions.items()
             if ctx.day in days and risky_amount(days[ctx.day], p.patterns) > 0]
    risky = [m for u in units for m in series.subscriptions[u][ctx.day].meters.values()
             if match(f"{m.meter_category}|{m.meter_sub_category}|{m.meter_name}")]
    meters = {f"{m.meter_category}|{m.meter_sub_category}|{m.meter_name}" for m in risky}
    return [signal(
        ctx, Detector.RISKY_METER, "risky_meter", observed=amount, threshold=threshold, baseline=base,
        basis=basis, at_stake=amount - base, units=units, meters=meters, regions={m.region for m in risky},
        figures={"risky_spend": money(amount), "previous_max": money(base), "tenant_age_days": tenant_age(ctx)},
    )]


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
    """Net new spend in regions the customer never used before. A move (the new region's spend matched by
    a drop elsewhere, the total near its baseline) or a declared planned change is not flagged."""
    x = today(ctx)
    if x is None or ctx.series is None or history_days(ctx) < p.min_history_days:
        return []
    series = ctx.series
    new = _new_regions(series, ctx.day)
    declared = {r.lower() for n in notices(ctx) for r in n.regions}
    new = {r: a for r, a in new.items() if r not in declared}
    amount = sum(new.values())
    if not new or amount < float(p.min_amount) or amount < p.min_share * x:
        return []
    prior = [series.by_day.get(ctx.day - timedelta(days=k), 0.0) for k in range(1, p.baseline_days + 1)]
    baseline, scale = robust_center_scale(prior, 0.1, 1.0)
    net = min(amount, x - baseline)
    if net < float(p.min_amount) or x - baseline < p.rise_z * scale:
        return []  # the total did not rise beyond its usual wobble: a move, not new use
    units = [u for u, days in series.subscriptions.items()
             if ctx.day in days and any(r in new for r in days[ctx.day].by_region)]
    meters = {f"{m.meter_category}|{m.meter_sub_category}|{m.meter_name}" for u in units
              for m in series.subscriptions[u][ctx.day].meters.values() if m.region in new}
    return [signal(
        ctx, Detector.NEW_REGION, "new_region", observed=net,
        threshold=f">= {money(p.min_amount)}, >= {label('of_day', ctx.language, share=f'{p.min_share:.0%}')}",
        baseline=baseline,
        basis=basis_text("last_days", ctx.language, n=p.baseline_days), at_stake=net, units=units, meters=meters,
        regions=new, figures={"new_region_spend": money(amount), "day_total": money(x),
                              "share": round(amount / max(x, 1e-9), 3)},
    )]


def detect_subscription_burst(ctx: Context, p: SubscriptionBurstParams) -> list[Signal]:
    """Many consuming subscriptions (Azure subscriptions under a plan count one by one) starting within a
    short window. For a tenant created within the window, its starting subscriptions are compared with
    what established peers use (their 90th percentile), since all of them are new."""
    if today(ctx) is None or ctx.series is None:
        return []
    series = ctx.series
    lo = ctx.day - timedelta(days=p.window_days - 1)
    limit = p.max_new
    basis = basis_text("window", ctx.language, n=p.max_new - 1, days=p.window_days)
    if history_days(ctx) < p.window_days and not p.include_first_days:
        if not known_new(ctx, p.window_days):
            return []
        segment = ctx.segment
        peer = peer_for(ctx.peers, segment, None)
        limit = max(limit, (peer.p90_subscriptions if peer else 0) + 1)
        basis = basis_text("peers", ctx.language, stat="p90 subscriptions", segment=peer.segment if peer else "-",
                           band=peer.band if peer else "-", n=peer.customers if peer else 0)
    new = sorted(s for s, d in series.first_seen.items() if lo <= d <= ctx.day)
    if len(new) < limit:
        return []
    spend = sum(float(v.total) for s in new for d, v in series.subscriptions[s].items() if lo <= d <= ctx.day)
    cur = [series.subscriptions[s][ctx.day] for s in new if ctx.day in series.subscriptions[s]]
    return [signal(
        ctx, Detector.SUBSCRIPTION_BURST, "subscription_burst", observed=len(new),
        observed_text=f"{len(new)} ({lo}..{ctx.day})", threshold=f">= {limit}", baseline=limit - 1, basis=basis,
        at_stake=spend, units=new, meters={k for c in cur for k in c.by_meter},
        regions={k for c in cur for k in c.by_region},
        figures={"new_subscriptions": len(new), "window_days": p.window_days, "their_spend": money(spend)},
    )]


__all__ = ["detect_new_region", "detect_risky_meter", "detect_subscription_burst", "drivers", "risky_amount"]
