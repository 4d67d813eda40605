"""Money detectors: projected exposure against credit and prepayment, and Partner Center's own fraud events."""

from __future__ import annotations

from datetime import date, timedelta

from shared.fraud.context import Context, drivers, signal, today
from shared.fraud.explain import basis_text
from shared.fraud.params import FraudEventParams, VelocityParams
from shared.fraud.signals import Detector, Signal
from shared.fraud.stats import money


def _next_month_start(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def detect_velocity(ctx: Context, p: VelocityParams) -> list[Signal]:
    """Projected exposure at the next invoice date (unpaid balance + accrued + burn rate x days left)
    against credit limit plus prepayment."""
    prof = ctx.profile
    x = today(ctx)
    if x is None or prof is None or ctx.series is None or (prof.credit_limit is None and prof.prepayment is None):
        return []
    limit = float((prof.credit_limit or 0) + (prof.prepayment or 0))
    start = prof.current_period_start or ctx.day.replace(day=1)
    invoice = prof.next_invoice_date or _next_month_start(ctx.day)
    series = ctx.series
    by_day = series.by_day
    days, vals = series.floats
    accrued = sum(v for d, v in zip(days, vals, strict=True) if start <= d <= ctx.day)
    # burn rate within the current period only: last period's month-end peak says little about this one
    span = [ctx.day - timedelta(days=k) for k in range(p.burn_days) if ctx.day - timedelta(days=k) >= start]
    burn = sum(by_day.get(d, 0.0) for d in span) / max(len(span), 1)
    days_left = max((invoice - ctx.day).days - 1, 0)
    unpaid = float(prof.outstanding_balance)
    projected = unpaid + accrued + burn * days_left
    if projected < p.max_utilisation * limit or projected - limit < float(p.min_amount):
        return []
    cur = series.daily[ctx.day]
    return [signal(
        ctx, Detector.VELOCITY, "velocity", observed=projected,
        threshold=f">= {p.max_utilisation:.0%} of {money(limit)}", baseline=limit,
        basis=basis_text("limit", ctx.language, accrued=money(accrued), burn=money(burn), days=days_left,
                         unpaid=money(unpaid)),
        at_stake=projected - limit, units=[u for u, s in series.subscriptions.items() if ctx.day in s],
        meters=drivers(cur.by_meter, ()), regions=drivers(cur.by_region, ()),
        figures={"projected_exposure": money(projected), "limit": money(limit), "accrued": money(accrued),
                 "burn_rate": money(burn), "days_left": days_left, "next_invoice": invoice.isoformat(),
                 "outstanding": money(unpaid)},
        invoice=invoice.isoformat(),
    )]


def detect_fraud_event(ctx: Context, p: FraudEventParams) -> list[Signal]:
    """Partner Center fraud events (global profile), mapped to signals; evaluated once per run."""
    statuses = {s.lower() for s in p.statuses}
    types = {t.lower() for t in p.event_types}
    out = []
    for e in ctx.events:
        if e.event_time > ctx.now or e.event_status.lower() not in statuses:
            continue
        if types and e.event_type.lower() not in types and e.event_name.lower() not in types:
            continue
        at = Context(ctx.customer_id, ctx.series, ctx.profile, e.event_time.date(), ctx.now, ctx.peers,
                     ctx.events, ctx.language, ctx.segment)
        owners = ctx.series.owners if ctx.series else {}
        units = [u for u, (sub, ent) in owners.items() if e.subscription_id in (sub, ent, u)]
        sig = signal(
            at, Detector.FRAUD_EVENT, "fraud_event", observed=e.hit_count, observed_text=f"{e.hit_count} hit(s)",
            threshold=f"status in {sorted(statuses)}", baseline=0,
            basis=basis_text("event", ctx.language, hits=e.hit_count,
                             since=(e.first_occurrence or e.event_time).isoformat()),
            at_stake=0, units=units, ref=e.event_id, event=e.event_name or e.event_type, status=e.event_status,
            figures={"event_id": e.event_id, "event": e.event_name or e.event_type, "status": e.event_status,
                     "hit_count": e.hit_count, "service": e.service_name, "resource": e.resource_name},
        )
        if not units and e.subscription_id:
            sig = sig.model_copy(update={"subscription_ids": (e.subscription_id,)})
        out.append(sig)
    return out
