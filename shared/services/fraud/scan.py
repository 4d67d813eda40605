"""The usage scan: stream unbilled usage page by page, keep per-customer history, update exposure, assess.

Flow: the timer (or POST /api/fraud/scan) queues a ``stream`` item on Queue.FRAUD_SCAN; its worker streams
Partner Center's partner-wide unbilled usage one page at a time (only the current page and one small
figure per customer are in memory) -- ``period=previous`` too in the first ``fraud_previous_period_days`` of
a month, where the last days of a closed, not yet invoiced month are served -- folds each page into the
customers' stored histories (per Azure subscription), writes UnbilledExposure (as of the newest usage day;
customers missing from the scan age out), records whether the feed advanced (alarm when it stalls), pulls
fraud events (global profile), then assesses every customer with usage over the look-back window
(``fraud_lookback_days``, default 3: yesterday's usage and the days before, Partner Center lagging a day).
Up to ``settings.sweep_shard_size`` customers (default 200) are assessed inline by the same worker;
more are fanned out as ``assess`` items of that many customers each on Queue.FRAUD_SCAN.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from shared.clock import utcnow
from shared.domain import Money
from shared.fraud import FraudEvent, History, Rules, UsageLine, aggregate, assess_customer, parse_rules
from shared.fraud.peers import baselines, index, peer_figure
from shared.messaging import Queue
from shared.services.fraud.feed import alarm_if_stalled, record_feed
from shared.services.fraud.intake import apply_assessment
from shared.services.fraud.profiles import profile_for, with_creation_dates
from shared.services.fraud.store import AssessmentRecord, FraudScanRun, FraudStores, StoredHistory, trim
from shared.services.messages import FraudScanItem
from shared.services.state import UnbilledExposure

if TYPE_CHECKING:
    from shared.ports import Ports

log = logging.getLogger("cspguard.fraud.scan")
__all__ = ["assess_shard", "load_rules", "profile_for", "scan_run", "start_scan", "stream", "to_line", "work"]


@lru_cache(maxsize=4)
def _rules(path: str, mtime: float) -> Rules:
    return parse_rules(Path(path).read_text(encoding="utf-8"))


def load_rules(path: Path) -> Rules:
    """The rules file, parsed once per version of the file."""
    return _rules(str(path), path.stat().st_mtime)


def to_line(item: BaseModel) -> UsageLine | None:
    """A Partner Center usage line item as the engine's UsageLine (None when it lacks what the engine needs)."""
    data = item.model_dump(by_alias=True, exclude_none=True)
    if not (data.get("customerId") and data.get("subscriptionId") and data.get("usageDate")
            and data.get("billingPreTaxTotal") is not None):
        return None
    data["customerId"] = str(data["customerId"]).lower()
    if not data.get("entitlementName") and data.get("entitlementDescription"):
        data["entitlementName"] = data["entitlementDescription"]
    return UsageLine.model_validate(data)


def start_scan(ctx: Ports, requested_by: str = "csp-guard:timer", now: datetime | None = None) -> FraudScanRun:
    """Record a run and queue its stream item (the timer and POST /api/fraud/scan)."""
    now = now or utcnow()
    run = FraudScanRun(run_id=f"fraud-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}", started_at=now,
                       requested_by=requested_by)
    ctx.fraud.runs.put(run.run_id, "fraudscan", run)
    ctx.producer.send(Queue.FRAUD_SCAN, FraudScanItem(run_id=run.run_id, as_of=now).envelope())
    return run


def scan_run(ctx: Ports, run_id: str) -> FraudScanRun | None:
    """A fraud scan run as it stands (``GET fraud/scans/{run_id}``)."""
    return ctx.fraud.runs.get(run_id, "fraudscan")


async def work(ctx: Ports, item: FraudScanItem) -> FraudScanRun:
    """One ``fraud.scan`` message: stream the usage, or assess its shard of customers."""
    return await (stream(ctx, item) if item.stage == "stream" else assess_shard(ctx, item))


def _store_page(fs: FraudStores, lines: list[UsageLine], now: datetime) -> dict[str, StoredHistory]:
    """Fold one page into each customer's stored history (ETag-safe, idempotent on re-reads)."""
    by_customer: dict[str, list[UsageLine]] = defaultdict(list)
    for line in lines:
        by_customer[line.customer_id].append(line)
    out: dict[str, StoredHistory] = {}
    for cid, mine in by_customer.items():
        def change(doc: StoredHistory | None, cid: str = cid, mine: list[UsageLine] = mine) -> StoredHistory:
            base = History(customers={cid: doc.series}) if doc else None
            series = aggregate(mine, into=base).customers[cid]
            newest = max(series.daily) if series.daily else now.date()
            if doc is None:
                return StoredHistory(customer_id=cid, series=trim(series, newest), updated_at=now)
            return doc.model_copy(update={"series": trim(series, newest), "updated_at": now})

        doc = fs.history.update(cid, "history", change)
        if doc is not None:
            out[cid] = doc
    return out


def periods_to_read(now: datetime, previous_days: int) -> list[str]:
    """``previous`` as well as ``current`` early in a month: Partner Center serves the last days of a closed,
    not yet invoiced month as the previous period."""
    return ["previous", "current"] if now.day <= previous_days else ["current"]


def _write_exposure(ctx: Ports, unbilled: dict[str, dict[str, Decimal]], newest: date | None,
                    now: datetime) -> None:
    """Unbilled usage per customer, as of the newest usage day read; a customer with stored exposure but no
    usage in this scan (invoiced, or gone) is set to zero rather than keeping a figure that never ages."""
    as_of = datetime.combine(newest, datetime.min.time(), tzinfo=now.tzinfo) if newest else now
    for cid, by_cur in unbilled.items():
        cur, amount = max(by_cur.items(), key=lambda kv: kv[1])
        ctx.stores.exposure.upsert(cid, "unbilled", UnbilledExposure(
            customer_id=cid, unbilled=Money.of(amount, cur), as_of=as_of, observed_at=now))
    for cid in ctx.stores.exposure.partition_keys("unbilled"):
        if cid not in unbilled:
            old = ctx.stores.exposure.get(cid, "unbilled")
            if old is not None and old.unbilled.amount != 0:
                ctx.stores.exposure.upsert(cid, "unbilled", UnbilledExposure(
                    customer_id=cid, unbilled=Money.of(Decimal(0), old.unbilled.currency), as_of=as_of,
                    observed_at=now))


async def _fraud_events(ctx: Ports) -> list[FraudEvent]:
    from shared.partner_center import CapabilityNotAvailable
    from shared.settings import Cloud

    if ctx.settings.pc_cloud is not Cloud.GLOBAL:
        return []
    try:
        events = await ctx.partner_center().list_fraud_events()
    except CapabilityNotAvailable:
        return []
    out = []
    for e in events:
        if not (e.customer_id and e.occurred_at):
            continue
        out.append(FraudEvent(event_id=e.id or "", event_name=e.event_name or "",
                              customer_tenant_id=e.customer_id.lower(),
                              event_status=str(e.event_status.value if e.event_status else "Active"),
                              subscription_id=(e.subscription_id or "").lower(), resource_name=e.resource_name or "",
                              event_time=e.occurred_at, first_occurrence=e.first_occurrence_date))
    return out


async def stream(ctx: Ports, item: FraudScanItem, page_size: int = 2000) -> FraudScanRun:
    """Stream the usage, store history and exposure, then assess inline or fan out."""
    fs = ctx.fraud
    now = item.as_of
    rules = load_rules(ctx.settings.fraud_rules_file)
    _set(fs, item.run_id, status="streaming")
    pages = lines_seen = 0
    unbilled: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    peer_values: dict[str, tuple[float, int]] = {}
    segments: dict[str, str] = {}
    newest: date | None = None
    for period in periods_to_read(now, ctx.settings.fraud_previous_period_days):
        async for page in ctx.partner_center().unbilled_usage_pages(page_size=page_size, period=period):
            pages += 1
            lines = [line for line in (to_line(i) for i in page) if line is not None]
            lines_seen += len(lines)
            for line in lines:
                unbilled[line.customer_id][line.pricing_currency] += line.billing_pre_tax_total
                newest = line.usage_date if newest is None or line.usage_date > newest else newest
            for cid, doc in _store_page(fs, lines, now).items():
                if cid not in segments:
                    prof = profile_for(ctx, cid, rules, doc.subscriptions_created)
                    segments[cid] = (prof.segment if prof else None) or rules.default_segment
                fig = peer_figure(doc.series, now.date())
                if fig is not None:
                    peer_values[cid] = fig
    _write_exposure(ctx, unbilled, newest, now)
    feed = record_feed(ctx.fraud.usage_feed, newest, now)
    await alarm_if_stalled(ctx, feed, now)
    peers = baselines((segments[cid], daily, units) for cid, (daily, units) in peer_values.items())
    events = await _fraud_events(ctx)
    customers = sorted(set(unbilled) | {e.customer_tenant_id for e in events})
    size = ctx.settings.sweep_shard_size
    shards = [customers[i:i + size] for i in range(0, len(customers), size)]
    run = _set(fs, item.run_id, status="assessing", pages=pages, lines=lines_seen, customers=len(customers),
               shards=len(shards), fraud_events=len(events))
    items = [FraudScanItem(run_id=item.run_id, stage="assess", as_of=now, shard=k, customer_ids=tuple(ids),
                           peers=peers, events=tuple(e for e in events if e.customer_tenant_id in set(ids)))
             for k, ids in enumerate(shards)]
    if len(items) <= 1:
        for shard in items:
            run = await assess_shard(ctx, shard)
        if not items:
            run = _set(fs, item.run_id, status="completed", finished_at=utcnow())
        return run
    for shard in items:
        ctx.producer.send(Queue.FRAUD_SCAN, shard.envelope())
    return run


async def assess_shard(ctx: Ports, item: FraudScanItem) -> FraudScanRun:
    """Assess one shard of customers from their stored history and act on the outcomes."""
    fs = ctx.fraud
    rules = load_rules(ctx.settings.fraud_rules_file)
    now = item.as_of
    counts: dict[str, int] = defaultdict(int)
    errors: list[str] = []
    peers = index(item.peers)
    settings = ctx.settings
    for cid in item.customer_ids:
        doc = fs.history.get(cid, "history")
        if doc is not None:
            doc = await with_creation_dates(ctx, doc, now)
        series = doc.series if doc else None
        history = History(customers={cid: series} if series else {})
        profile = profile_for(ctx, cid, rules, doc.subscriptions_created if doc else None)
        events = tuple(e for e in item.events if e.customer_tenant_id == cid)
        a = assess_customer(cid, history, profile, rules, now, peers, events,
                            lookback_days=settings.fraud_lookback_days, language=settings.fraud_language)
        counts["assessed"] += 1
        if a.shadow_hits:
            counts["shadow_flagged"] += 1
        if not (a.hits or a.shadow_hits or a.listed):
            continue
        if a.hits or a.listed == "block":
            counts["flagged"] += 1
        try:
            effects = await apply_assessment(ctx, a, now, series.customer_name if series else "", item.run_id)
        except Exception as exc:  # one customer's failure must not hide the others' cases
            log.exception("fraud case for %s failed", cid)
            errors.append(f"{cid}: {type(exc).__name__}: {exc}")
            effects = None
        fs.assessments.upsert(cid, f"{now:%Y%m%dT%H%M%S}", AssessmentRecord(
            assessment=a, run_id=item.run_id, case_id=effects.case_id if effects else None))
        if effects is not None:
            counts["cases_opened"] += effects.opened
            counts["cases_updated"] += effects.updated
            counts["containments"] += effects.contained
            counts["pending_approvals"] += effects.pending_approval
    return _finish_shard(fs, item.run_id, counts, errors)


def _set(fs: FraudStores, run_id: str, **fields: object) -> FraudScanRun:
    run = fs.runs.update(run_id, "fraudscan", lambda r: r.model_copy(update=fields) if r else None)
    if run is None:
        raise LookupError(f"no fraud scan run {run_id}")
    return run


def _finish_shard(fs: FraudStores, run_id: str, counts: dict[str, int], errors: list[str]) -> FraudScanRun:
    def change(run: FraudScanRun | None) -> FraudScanRun | None:
        if run is None:
            return None
        update: dict[str, object] = {k: getattr(run, k) + v for k, v in counts.items()}
        update["shards_done"] = run.shards_done + 1
        update["errors"] = [*run.errors, *errors][-50:]
        if run.shards_done + 1 >= run.shards:
            update["status"] = "completed"
            update["finished_at"] = utcnow()
        return run.model_copy(update=update)

    run = fs.runs.update(run_id, "fraudscan", change)
    if run is None:
        raise LookupError(f"no fraud scan run {run_id}")
    return run
