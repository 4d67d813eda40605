"""The 30-day collections forecast and the sweep guards a preview reports (read-only: nothing is stored or sent).

The forecast runs the pure simulation in ``shared.collections.forecast`` over the current portfolio at the
next N sweep moments (``SWEEP_SCHEDULE``), with the guards a real sweep and the enforcement worker apply:
the payment feed's freshness, payment events parked in the dead-letter table, and the blast-radius limits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.clock import utcnow
from shared.collections import CollectionsCase, CustomerLedger, CustomerOverrides, Decision, SentNotice
from shared.collections.forecast import ASSUMPTIONS, Day, Guards, at_sweep_time, forecast, sweep_moments
from shared.domain import Money
from shared.domain.dates import parse_day
from shared.messaging import Queue
from shared.services.errors import InvalidRequest
from shared.services.payments import feed_age_hours
from shared.services.policies import calendar, policy_set

if TYPE_CHECKING:
    from shared.ports import Ports
    from shared.services.state import Stores

MAX_DAYS = 90
_CUSTOMER = re.compile(r'"customer_id"\s*:\s*"([^"]+)"')


@dataclass(frozen=True)
class PortfolioInputs:
    """Everything evaluation reads, for the whole portfolio, in a handful of table queries."""

    ledgers: list[CustomerLedger]
    overrides: dict[str, CustomerOverrides]
    notices: dict[str, tuple[SentNotice, ...]]
    cases: dict[str, CollectionsCase]
    unbilled: dict[str, Money]


def portfolio_inputs(stores: Stores, ledgers: list[CustomerLedger] | None = None) -> PortfolioInputs:
    """Everything a preview or forecast reads, in five range queries (``ledgers`` when already loaded)."""
    ledgers = ledgers if ledgers is not None else list(stores.ledgers.with_row("ledger"))
    states = {s.customer_id: s for s in stores.cases.with_row("collections")}
    overrides = {}
    for cid in stores.overrides.partition_keys("overrides"):
        found = stores.overrides_for(cid)
        if found is not None:
            overrides[cid] = found
    unbilled = {e.customer_id: e.unbilled for e in stores.exposure.with_row("unbilled")}
    return PortfolioInputs(ledgers=ledgers, overrides=overrides, unbilled=unbilled,
                           notices={cid: tuple(s.notices) for cid, s in states.items()},
                           cases={cid: s.case for cid, s in states.items() if s.case is not None})


def sweep_guards(ctx: Ports, now: datetime) -> Guards:
    """The guards as they stand at ``now`` (feed age, parked payment events) with the configured limits."""
    s = ctx.settings
    age = feed_age_hours(ctx.stores, now)
    problem = None
    if age is None or age > s.payment_feed_max_silence_hours:
        seen = "never received" if age is None else f"silent for {age:.1f} h"
        problem = f"payment feed {seen} (limit {s.payment_feed_max_silence_hours:g} h): suspensions are refused"
    parked = set()
    for letter in ctx.deadletters.list(Queue.PAYMENT_EVENTS):
        parked.update(_customers_in(letter.body))
    return Guards(feed_problem=problem, parked_customers=frozenset(parked),
                  max_suspensions_per_run=s.max_suspensions_per_run, max_suspension_share=s.max_suspension_share)


def _customers_in(body: str) -> set[str]:
    try:
        payload = json.loads(body).get("payload", {})
        cid = payload.get("customer_id") if isinstance(payload, dict) else None
        if isinstance(cid, str):
            return {cid}
    except (ValueError, AttributeError):
        pass
    return set(_CUSTOMER.findall(body))


class Forecast(BaseModel):
    """``GET /api/collections/forecast`` and ``cspguard forecast``."""

    generated_at: datetime
    policy_version: str
    timezone: str
    customers: int
    sweep_schedule: str
    guards: dict[str, Any]
    assumptions: tuple[str, ...]
    days: list[Day]


def guards_report(guards: Guards) -> dict[str, Any]:
    return {"payment_feed": guards.feed_problem or "fresh", "parked_payment_events": sorted(guards.parked_customers),
            "max_suspensions_per_run": guards.max_suspensions_per_run,
            "max_suspension_share": guards.max_suspension_share}


def collections_forecast(ctx: Ports, days: int = 30, now: datetime | None = None) -> Forecast:
    """Per day for the next ``days`` sweeps: notices, suspensions, refusals and the amounts concerned."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidRequest(f"days must be between 1 and {MAX_DAYS}")
    now = now or utcnow()
    policy = policy_set(ctx.settings).for_version(None)
    inputs = portfolio_inputs(ctx.stores)
    guards = sweep_guards(ctx, now)
    moments = sweep_moments(ctx.settings.sweep_schedule, now, days)
    result = forecast(inputs.ledgers, policy, calendar(ctx.settings, policy), moments, guards,
                      overrides=inputs.overrides, notices=inputs.notices, cases=inputs.cases,
                      unbilled=inputs.unbilled)
    return Forecast(generated_at=now, policy_version=policy.version, timezone=str(policy.tz),
                    customers=len(inputs.ledgers),
                    sweep_schedule=ctx.settings.sweep_schedule, guards=guards_report(guards),
                    assumptions=ASSUMPTIONS, days=result)


def preview_guards(ctx: Ports, decisions: list[Decision], now: datetime) -> dict[str, Any]:
    """What a sweep at ``now`` would do after its own guards, beside the preview's per-customer decisions."""
    guards = sweep_guards(ctx, now)
    targets = sorted(d.customer_id for d in decisions if d.suspends)
    share = len(targets) / len(decisions) if decisions else 0.0
    halts = len(targets) > guards.max_suspensions_per_run or share > guards.max_suspension_share
    refused = [cid for cid in targets if guards.feed_problem or cid in guards.parked_customers or halts]
    return {**guards_report(guards), "would_suspend": len(targets), "blast_radius_halts": halts,
            "refused_by_guards": refused}


def preview_moment(ctx: Ports, value: str | None) -> datetime | None:
    """``?at=`` / ``--at``: a date means that day's sweep at the sweep's own time; an ISO time is taken as is."""
    if value and len(value) == 10:
        parse_day(value)  # ValueError outside the accepted window
        policy = policy_set(ctx.settings).for_version(None)
        return at_sweep_time(date.fromisoformat(value), ctx.settings.sweep_schedule, policy.tz)
    return parse_day(value)


def csv_rows(f: Forecast) -> list[dict[str, str]]:
    """One row per (day, customer, what): what is notice:<stage>, suspend or refused."""
    rows = []
    for day in f.days:
        lines = [(f"notice:{stage}", it) for stage, items in day.notices.items() for it in items]
        lines += [("suspend", it) for it in day.suspended] + [("refused", it) for it in day.refused]
        for what, it in lines:
            rows.append({"date": day.date.isoformat(), "at": day.at.isoformat(), "what": what,
                         "customer_id": it.customer_id, "name": it.name or "", "stage": it.stage or "",
                         "overdue": "; ".join(f"{a} {c}" for c, a in sorted(it.overdue.items())),
                         "reasons": " ".join(it.reasons), "halted": day.halted or ""})
    return rows


CSV_FIELDS = ("date", "at", "what", "customer_id", "name", "stage", "overdue", "reasons", "halted")


def to_csv(rows: list[dict[str, str]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
