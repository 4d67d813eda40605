"""The usage scan: stream unbilled usage page by page, keep per-customer history, update exposure, assess.

Flow: the timer (or POST /api/fraud/scan) queues a ``stream`` item on Queue.FRAUD_SCAN; its worker streams
Partner Center's partner-wide unbilled usage one page at a time (only the current page and one small
figure per customer are in memory), folds each page into the customers' stored histories, writes
UnbilledExposure, pulls fraud events (global profile), then assesses every customer with new usage.
Up to ``settings.sweep_shard_size`` customers (default 200) are assessed inline by the same worker;
more are fanned out as ``assess`` items of that many customers each on Queue.FRAUD_SCAN.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain import Money
from shared.fraud import (
    CustomerProfile,
    FraudEvent,
    History,
    PeerBaseline,
    Rules,
    UsageLine,
    aggregate,
    assess_customer,
    parse_rules,
)
from shared.fraud.stats import median
from shared.messaging import Envelope, Queue
from shared.messaging.kinds import FRAUD_SCAN
from shared.services.fraud.casework import apply_assessment
from shared.services.fraud.store import AssessmentRecord, FraudScanRun, FraudStores, StoredHistory, trim
from shared.services.state import UnbilledExposure

if TYPE_CHECKING:
    from shared.context import AppContext

log = logging.getLogger("cspguard.fraud.scan")
PEER_WINDOW_DAYS = 28


class FraudScanItem(BaseModel):
    """Payload of a ``fraud.scan`` message: stream the usage, or assess one shard of customers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    stage: Literal["stream", "assess"] = "stream"
    as_of: datetime
    shard: int = 0
    customer_ids: tuple[str, ...] = ()
    peers: dict[str, PeerBaseline] = Field(default_factory=dict)
    events: tuple[FraudEvent, ...] = ()

    def envelope(self) -> Envelope:
        return Envelope(kind=FRAUD_SCAN, idempotency_key=f"{self.run_id}:{self.stage}:{self.shard}",
                        correlation_id=self.run_id, payload=self.model_dump(mode="json"))


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
    return UsageLine.model_validate(data)


def profile_for(ctx: AppContext, customer_id: str, rules: Rules) -> CustomerProfile | None:
    """What collections knows about the customer (segment, credit limit) as the engine's profile."""
    ledger = ctx.stores.ledger(customer_id)
    if ledger is None:
        return None
    p = ledger.profile
    return CustomerProfile(customer_id=customer_id, name=p.name or "", segment=p.segment or rules.default_segment,
                           credit_limit=p.credit_limit.amount if p.credit_limit else None,
                           currency=p.credit_limit.currency if p.credit_limit else "CNY")


def start_scan(ctx: AppContext, requested_by: str = "csp-guard:timer", now: datetime | None = None) -> FraudScanRun:
    """Record a run and queue its stream item (the timer and POST /api/fraud/scan)."""
    now = now or datetime.now(UTC)
    run = FraudScanRun(run_id=f"fraud-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}", started_at=now,
                       requested_by=requested_by)
    FraudStores(ctx.tables).runs.put(run.run_id, "fraudscan", run)
    ctx.producer.send(Queue.FRAUD_SCAN, FraudScanItem(run_id=run.run_id, as_of=now).envelope())
    return run


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
            return StoredHistory(customer_id=cid, series=trim(series, newest), updated_at=now)

        doc = fs.history.update(cid, "history", change)
        if doc is not None:
            out[cid] = doc
    return out


def _peer_figure(doc: StoredHistory, before: datetime) -> float | None:
    """This customer's contribution to its segment's peer baseline (median daily spend over 28 days)."""
    by_day = doc.series.by_day
    days = [d for d in by_day if d < before.date()]
    if not days or (before.date() - min(days)).days < PEER_WINDOW_DAYS:
        return None
    lo = before.date() - timedelta(days=PEER_WINDOW_DAYS)
    return median([by_day.get(lo + timedelta(days=k), 0.0) for k in range(PEER_WINDOW_DAYS)])


def _baselines(values: dict[str, list[float]]) -> dict[str, PeerBaseline]:
    out = {}
    for seg, vals in values.items():
        ordered = sorted(vals)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        out[seg] = PeerBaseline(segment=seg, median_daily=Decimal(str(round(median(ordered), 2))),
                                p90_daily=Decimal(str(round(p90, 2))), customers=len(ordered))
    return out


async def _fraud_events(ctx: AppContext) -> list[FraudEvent]:
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


async def stream(ctx: AppContext, item: FraudScanItem, page_size: int = 2000) -> FraudScanRun:
    """Stream the usage, store history and exposure, then assess inline or fan out."""
    fs = FraudStores(ctx.tables)
    now = item.as_of
    rules = load_rules(ctx.settings.fraud_rules_file)
    _set(fs, item.run_id, status="streaming")
    pages = lines_seen = 0
    unbilled: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    peer_values: dict[str, float] = {}
    segments: dict[str, str] = {}
    async for page in ctx.partner_center().unbilled_usage_pages(page_size=page_size):
        pages += 1
        lines = [line for line in (to_line(i) for i in page) if line is not None]
        lines_seen += len(lines)
        for line in lines:
            unbilled[line.customer_id][line.pricing_currency] += line.billing_pre_tax_total
        for cid, doc in _store_page(fs, lines, now).items():
            if cid not in segments:
                prof = profile_for(ctx, cid, rules)
                segments[cid] = prof.segment if prof else rules.default_segment
            fig = _peer_figure(doc, now)
            if fig is not None:
                peer_values[cid] = fig
    for cid, by_cur in unbilled.items():
        cur, amount = max(by_cur.items(), key=lambda kv: kv[1])
        ctx.stores.exposure.upsert(cid, "unbilled", UnbilledExposure(
            customer_id=cid, unbilled=Money.of(amount, cur), as_of=now))
    grouped: dict[str, list[float]] = defaultdict(list)
    for cid, fig in peer_values.items():
        grouped[segments[cid]].append(fig)
        if segments[cid] != "default":
            grouped["default"].append(fig)
    peers = _baselines(grouped)
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
            run = _set(fs, item.run_id, status="completed", finished_at=datetime.now(UTC))
        return run
    for shard in items:
        ctx.producer.send(Queue.FRAUD_SCAN, shard.envelope())
    return run


async def assess_shard(ctx: AppContext, item: FraudScanItem) -> FraudScanRun:
    """Assess one shard of customers from their stored history and act on the outcomes."""
    fs = FraudStores(ctx.tables)
    rules = load_rules(ctx.settings.fraud_rules_file)
    now = item.as_of
    counts: dict[str, int] = defaultdict(int)
    errors: list[str] = []
    for cid in item.customer_ids:
        series = fs.series(cid)
        history = History(customers={cid: series} if series else {})
        profile = profile_for(ctx, cid, rules)
        events = tuple(e for e in item.events if e.customer_tenant_id == cid)
        a = assess_customer(cid, history, profile, rules, now, item.peers, events)
        counts["assessed"] += 1
        if a.shadow_hits:
            counts["shadow_flagged"] += 1
        if not (a.hits or a.shadow_hits or a.listed):
            continue
        if a.hits or a.listed == "block":
            counts["flagged"] += 1
        try:
            effects = await apply_assessment(ctx, fs, a, now, series.customer_name if series else "", item.run_id)
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
            update["finished_at"] = datetime.now(UTC)
        return run.model_copy(update=update)

    run = fs.runs.update(run_id, "fraudscan", change)
    if run is None:
        raise LookupError(f"no fraud scan run {run_id}")
    return run
