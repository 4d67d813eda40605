"""What one detector run sees, and the helpers every detector shares (ages, notices, attribution, signals).

A detector only reads usage days strictly before ``now``'s date (usage for today is never complete), so
replaying stored history with an earlier ``now`` cannot see the future.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from shared.fraud.explain import Language, Where, why
from shared.fraud.models import CustomerProfile, CustomerSeries, FraudEvent, PeerBaseline, SpendNotice
from shared.fraud.signals import Detector, Figure, Signal
from shared.fraud.stats import money

ATTRIBUTION_SHARE = 0.8
"""A signal names the fewest subscriptions / meters / regions that make up this share of the increase."""


@dataclass(frozen=True)
class Context:
    """One customer, one usage day, the clock passed in, the peer baselines and the team's language."""

    customer_id: str
    series: CustomerSeries | None
    profile: CustomerProfile | None
    day: date
    now: datetime
    peers: Mapping[tuple[str, str], PeerBaseline]
    events: tuple[FraudEvent, ...] = ()
    language: Language = "en"
    segment: str = "default"

    @property
    def currency(self) -> str:
        return self.series.currency if self.series else (self.profile.currency if self.profile else "CNY")


def today(ctx: Context) -> float | None:
    """The customer's spend on the evaluated day (None when the day is not complete or has no usage)."""
    if ctx.series is None or ctx.day >= ctx.now.date():
        return None
    return ctx.series.by_day.get(ctx.day)


def history_days(ctx: Context) -> int:
    """Days of usage history before the evaluated day (0 for a customer first seen that day)."""
    first = ctx.series.floats[0][0] if ctx.series and ctx.series.daily else ctx.day
    return (ctx.day - first).days


def tenant_age(ctx: Context) -> int:
    """Days since the tenant started with the partner (Partner Center's creation date), else history days."""
    onboarded = ctx.profile.onboarded_at if ctx.profile else None
    if onboarded is None:
        return history_days(ctx)
    return max((ctx.day - onboarded).days, 0)


def known_new(ctx: Context, days: int) -> bool:
    """The tenant is known (from its creation date) to be younger than ``days``: no history is not a gap."""
    return bool(ctx.profile and ctx.profile.onboarded_at) and tenant_age(ctx) < days


def notices(ctx: Context) -> list[SpendNotice]:
    """Planned changes the customer declared that cover the evaluated day."""
    return [n for n in (ctx.profile.notices if ctx.profile else ()) if n.covers(ctx.day)]


def drivers(now: Mapping[str, Decimal | float], before: Iterable[Mapping[str, Decimal | float]],
            share: float = ATTRIBUTION_SHARE) -> list[str]:
    """Keys (subscriptions, meters, regions) whose rise over their average of ``before`` days makes up
    ``share`` of the total rise, largest first; without a rise, the largest keys of ``now``."""
    days = list(before)
    avg: dict[str, float] = {}
    for d in days:
        for k, v in d.items():
            avg[k] = avg.get(k, 0.0) + float(v) / max(len(days), 1)
    rise = {k: float(v) - avg.get(k, 0.0) for k, v in now.items() if float(v) - avg.get(k, 0.0) > 0}
    pool = rise or {k: float(v) for k, v in now.items() if float(v) > 0}
    ranked = sorted(pool, key=lambda k: -pool[k])
    total, acc, out = sum(pool.values()), 0.0, []
    for k in ranked:
        out.append(k)
        acc += pool[k]
        if acc >= share * total:
            break
    return out


def scope(series: CustomerSeries | None, units: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(Partner Center subscriptions, Azure subscriptions) of these consuming subscriptions."""
    if series is None:
        return (), ()
    owners = series.owners
    subs = sorted({owners.get(u, (u, ""))[0] for u in units})
    ents = sorted({owners[u][1] for u in units if u in owners and owners[u][1]})
    return tuple(subs), tuple(ents)


def meter_names(labels: Iterable[str]) -> tuple[str, ...]:
    """Readable meter names from ``category|sub-category|name`` labels."""
    return tuple(sorted({" / ".join(p for p in label.split("|") if p) for label in labels}))


def signal(
    ctx: Context,
    detector: Detector,
    what: str,
    *,
    observed: float | Decimal,
    threshold: str,
    baseline: float | Decimal,
    basis: str,
    at_stake: float | Decimal,
    units: Iterable[str] = (),
    meters: Iterable[str] = (),
    regions: Iterable[str] = (),
    figures: Mapping[str, Figure] | None = None,
    observed_text: str | None = None,
    ref: str = "",
    **values: object,
) -> Signal:
    """A signal whose explanation and figures carry observed value, threshold, baseline, basis and scope."""
    subs, ents = scope(ctx.series, units)
    meters_t, regions_t = meter_names(meters), tuple(sorted(set(regions)))
    stake = money(max(float(at_stake), 0.0))
    shown = observed_text or str(money(observed))
    text = why(ctx.language, what, ctx.day, shown, threshold, str(money(baseline)), basis,
               Where(subs, ents, meters_t, regions_t), stake, ctx.currency, **values)
    return Signal(
        detector=detector,
        customer_id=ctx.customer_id,
        day=ctx.day,
        subscription_ids=subs,
        entitlement_ids=ents,
        meters=meters_t,
        regions=regions_t,
        why=text,
        figures={"observed": money(observed) if observed_text is None else shown, "threshold": threshold,
                 "baseline": money(baseline), "basis": basis, **(figures or {})},
        amount_at_risk=stake,
        ref=ref,
    )
