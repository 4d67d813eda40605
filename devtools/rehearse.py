"""``cspguard rehearse --days 30 [--payments FILE.csv]``: weeks of collections in minutes, on a copy.

The current portfolio is copied into a throwaway local stack (free ports, in-memory Azurite, its own sandbox
and mailbox): csp-guard's state tables are copied entity by entity, and every customer's subscriptions are
read from the configured Partner Center (GETs only) and created in the throwaway sandbox with the same ids and
statuses. Then the throwaway stack's clock moves one day at a time; each day the runner's timers run the real
sweep and fraud scan, the queues carry notices and enforcement, and the payments scripted for that day arrive.
Nothing real is touched: the source is only read, and every write goes to the throwaway stack.

Assumptions (printed with the report): the billing system's daily export keeps arriving (one unchanged
``customer.updated`` event a day keeps the payment feed fresh); no operator acts (halted runs and pending
approvals stay pending); payments arrive at the start of their day, before that day's sweep.
"""

from __future__ import annotations

import asyncio
import csv
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from azure.data.tables import TableServiceClient
from pydantic import BaseModel

from devtools.polling import wait_until
from devtools.runner import DEFAULT_KEYS
from devtools.stack import Stack, StackConfig
from shared.clock import for_file
from shared.collections.forecast import sweep_moments
from shared.settings import Settings

# csp-guard's state (shared/services/state.py, shared/services/fraud/store.py, shared/storage/): ledgers, cases,
# overrides, suspension records, the fraud cases and usage history the detectors compare against, the
# idempotency claims (what was already sent is not sent again), parked messages (a guard) and the audit log;
# only the run history stays behind
COPIED_TABLES = ("ledger", "overrides", "cases", "suspensions", "approvals", "feeds", "exposure",
                 "fraudcases", "fraudassessments", "usage", "idempotency", "deadletters", "audit")
ASSUMPTIONS = (
    "the billing system's daily export keeps arriving (the payment feed stays fresh)",
    "no operator acts: halted runs and pending approvals stay pending",
    "scripted payments arrive at the start of their day, before that day's sweep",
)
SH = ZoneInfo("Asia/Shanghai")
AZURE_PLAN_OFFER = "DZH318Z0BPS6"


class RehearsalError(RuntimeError):
    """The rehearsal cannot run (bad payments file, unreadable source); the message says what to fix."""


class Payment(BaseModel):
    """One line of the payments CSV: ``date,customer_id,amount,currency[,invoice_id]``."""

    date: date
    customer_id: str
    amount: Decimal
    currency: str
    invoice_id: str | None = None


def read_payments(path: Path) -> list[Payment]:
    """The scripted payments; every bad line is named at once."""
    out: list[Payment] = []
    problems: list[str] = []
    with path.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            try:
                p = Payment.model_validate({k: (v or None) for k, v in row.items() if k})
                if p.amount <= 0:
                    raise ValueError("amount must be positive")
                out.append(p)
            except (ValueError, InvalidOperation) as exc:
                problems.append(f"{path}:{n}: {str(exc).splitlines()[0]}")
    if problems:
        raise RehearsalError("payments file: " + "; ".join(problems))
    return out


class DayReport(BaseModel):
    day: date
    sweep: str  # completed / halted (detail)
    notices: dict[str, int]  # e-mail subject kind -> count (customer notices and team alerts)
    suspended: list[str]
    reactivated: list[str]
    payments: list[str]
    overdue_suspended: dict[str, str]  # overdue amounts of the customers suspended that day


class Rehearsal(BaseModel):
    started_at: datetime
    customers: int
    subscriptions: int
    assumptions: tuple[str, ...] = ASSUMPTIONS
    days: list[DayReport]


@dataclass
class _Copy:
    stack: Stack
    customers: list[str] = field(default_factory=list)
    subscriptions: int = 0

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.stack.app_url}/api", timeout=60,
                            headers={"x-functions-key": DEFAULT_KEYS.function, "x-actor": "rehearsal"})


def copy_tables(source: TableServiceClient, target: TableServiceClient) -> int:
    """Copy csp-guard's state tables (read-only on the source); returns the entities copied."""
    from azure.core.exceptions import ResourceNotFoundError

    copied = 0
    for name in COPIED_TABLES:
        target.create_table_if_not_exists(name)
        dest = target.get_table_client(name)
        try:
            for entity in source.get_table_client(name).list_entities():
                dest.upsert_entity(dict(entity))
                copied += 1
        except ResourceNotFoundError:
            continue
    return copied


def _kind(offer_id: str | None, is_addon: bool) -> str:
    if is_addon:
        return "addon"
    if (offer_id or "").startswith(AZURE_PLAN_OFFER):
        return "azure_plan"
    return "azure_legacy" if "AZR" in (offer_id or "") else "license"


async def read_partner_center(settings: Settings, customers: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every customer's subscriptions from the configured Partner Center (GETs only), as sandbox specs."""
    from shared.partner_center import PartnerCenterClient

    async with PartnerCenterClient.from_settings(settings) as pc:
        async def one(cid: str) -> tuple[str, list[dict[str, Any]]]:
            subs = sorted(await pc.list_subscriptions(cid), key=lambda s: s.is_addon)  # base subscriptions first
            index = {s.id: i for i, s in enumerate(subs)}
            return cid, [{"id": s.id, "kind": _kind(s.offer_id, s.is_addon), "status": str(s.status.value),
                          "quantity": s.quantity or 1, "friendly_name": s.friendly_name or s.offer_name or s.id,
                          **({"parent": index[s.parent_subscription_id]} if s.parent_subscription_id in index
                             else {})} for s in subs]

        return dict(await asyncio.gather(*(one(cid) for cid in customers)))


def rehearse(settings: Settings, days: int, payments: list[Payment], say: Callable[[str], None] = print,
             *, extra_settings: dict[str, str] | None = None) -> Rehearsal:
    """Copy, then run ``days`` days on the throwaway stack; the source is only read."""
    source = TableServiceClient.from_connection_string(settings.storage_connection.get_secret_value()) \
        if settings.storage_connection else None
    if source is None:
        raise RehearsalError("rehearse copies from a storage connection string (AzureWebJobsStorage)")
    customers = sorted(e["PartitionKey"] for e in source.get_table_client("ledger").query_entities(
        "RowKey eq 'ledger'", select=["PartitionKey"]))
    say(f"reading {len(customers)} customers' subscriptions from Partner Center (read-only)...")
    try:
        portfolio = asyncio.run(read_partner_center(settings, customers))
    except Exception as exc:
        raise RehearsalError(f"cannot read the portfolio from Partner Center: {type(exc).__name__}: {exc}") from exc
    start_at = for_file(settings.local_clock_file).now()  # the source's clock (moved locally too): start there
    extra = {k: v for k, v in _copied_settings(settings).items() if v}
    config = StackConfig(free_ports=True, customers=0, enable_timers=True, extra_settings={**extra,
                                                                                           **(extra_settings or {})})
    with Stack(config) as stack:
        copy = _Copy(stack, customers)
        with stack.sandbox_admin() as admin:
            for cid, subs in portfolio.items():
                admin.post("/_sandbox/customers", json={"id": cid, "company_name": cid, "subscriptions": subs}
                           ).raise_for_status()
                copy.subscriptions += len(subs)
        entities = copy_tables(source, TableServiceClient.from_connection_string(stack.connection_string))
        say(f"throwaway stack at {stack.app_url}: {len(customers)} customers, {copy.subscriptions} subscriptions, "
            f"{entities} state entities copied")
        with copy.api() as api:
            # each day's sweep runs just after its scheduled time of day (as in production: before the calendar's
            # cut-off), never at whatever hour the rehearsal happens to be started
            first = sweep_moments(settings.sweep_schedule, max(start_at, _now(api)), 1)[0] + timedelta(seconds=5)
            moves = [{"set": first.isoformat()}] + [{"advance": "1d"}] * (days - 1)
            reports = [_one_day(copy, api, payments, say, move) for move in moves]
    return Rehearsal(started_at=start_at, customers=len(customers), subscriptions=copy.subscriptions, days=reports)


def _copied_settings(settings: Settings) -> dict[str, str]:
    """The policy, calendar, limits and schedules of the source (endpoints are the throwaway stack's)."""
    return {"CSPGUARD_POLICY_FILE": str(settings.policy_file.resolve()),
            "CSPGUARD_POLICY_ARCHIVE_DIR": str(settings.policy_archive_dir.resolve()),
            "CSPGUARD_CALENDAR_OVERRIDES_FILE": str(settings.calendar_overrides_file.resolve())
            if settings.calendar_overrides_file else "",
            "CSPGUARD_MAX_SUSPENSIONS_PER_RUN": str(settings.max_suspensions_per_run),
            "CSPGUARD_MAX_SUSPENSION_SHARE": str(settings.max_suspension_share),
            "CSPGUARD_PAYMENT_FEED_MAX_SILENCE_HOURS": str(settings.payment_feed_max_silence_hours),
            "SWEEP_SCHEDULE": settings.sweep_schedule, "FRAUD_SCAN_SCHEDULE": settings.fraud_scan_schedule,
            "CSPGUARD_COLLECTIONS_CONTACT": settings.collections_contact}


def _now(api: httpx.Client) -> datetime:
    return datetime.fromisoformat(api.get("/clock").json()["now"])


def _statuses(copy: _Copy) -> dict[str, dict[str, str]]:
    with copy.stack.sandbox_admin() as admin:
        state = admin.get("/_sandbox/state").json()
    return {c["id"]: {s["id"]: s["status"] for s in c["subscriptions"]} for c in state["customers"]}


def _latest_run(api: httpx.Client) -> dict[str, Any] | None:
    items = api.get("/collections/runs", params={"limit": 1}).json()["items"]
    return items[0] if items else None


def _idle(copy: _Copy) -> bool:
    """Every queue empty twice in a row: the day's notices and enforcement are done."""
    def empty() -> bool:
        report = httpx.get(f"{copy.stack.app_url}/api/health", timeout=30).json()
        return all(q["backlog"] == 0 for q in report.get("queues", {}).values())

    if not empty():
        return False
    time.sleep(0.5)  # a worker may be about to enqueue a follow-up (a notice after a suspension)
    return empty()


def _one_day(copy: _Copy, api: httpx.Client, payments: list[Payment], say: Callable[[str], None],
             move: dict[str, str]) -> DayReport:
    before_mail = len(copy.stack.mailbox.messages()) if copy.stack.mailbox else 0
    before = _statuses(copy)
    previous = (_latest_run(api) or {}).get("run_id")
    target = datetime.fromisoformat(move["set"]) if "set" in move else _now(api) + timedelta(days=1)
    today = target.astimezone(SH).date()  # the day about to begin
    events: list[dict[str, Any]] = []
    paid = [p for p in payments if p.date == today]
    for p in paid:
        events.append({"type": "payment.received", "event_id": f"rehearsal-{uuid.uuid4().hex[:12]}",
                       "customer_id": p.customer_id, "occurred_at": _now(api).isoformat(),
                       "payment_id": f"REHEARSAL-{uuid.uuid4().hex[:8]}", "amount": str(p.amount),
                       "currency": p.currency, "received_at": _now(api).isoformat(),
                       **({"invoice_id": p.invoice_id} if p.invoice_id else {})})
    if copy.customers:  # the daily export: an unchanged profile event keeps the payment feed fresh
        status = api.get(f"/customers/{copy.customers[0]}/status").json()
        profile = status.get("profile", {})
        events.append({"type": "customer.updated", "event_id": f"rehearsal-feed-{uuid.uuid4().hex[:12]}",
                       "customer_id": copy.customers[0], "occurred_at": _now(api).isoformat(),
                       **{k: profile[k] for k in ("name", "contact_email", "language") if profile.get(k)}})
    if events:
        r = api.post("/payment-events", json=events)
        if r.status_code != 202:
            raise RehearsalError(f"scripted payments refused: {r.text}")
    api.post("/clock", json=move).raise_for_status()
    run = wait_until(lambda: (lambda r: r if r and r["run_id"] != previous and r["status"] != "running" else None)(
        _latest_run(api)), what="the day's sweep", timeout=120)
    wait_until(lambda: _idle(copy) or None, what="the day's queues to drain", timeout=120)
    after = _statuses(copy)
    suspended = sorted(c for c, subs in after.items()
                       if any(before.get(c, {}).get(s) != "suspended" and st == "suspended" for s, st in subs.items()))
    reactivated = sorted(c for c, subs in after.items()
                         if any(before.get(c, {}).get(s) == "suspended" and st == "active" for s, st in subs.items()))
    mail = copy.stack.mailbox.messages()[before_mail:] if copy.stack.mailbox else []
    kinds: dict[str, int] = {}
    for m in mail:
        kind = str(m["Subject"]).split(":")[0].strip()[:60]
        kinds[kind] = kinds.get(kind, 0) + 1
    at_stake: dict[str, Decimal] = {}
    for cid in suspended:
        overdue = (api.get(f"/customers/{cid}/status").json().get("decision") or {}).get("snapshot", {}).get(
            "overdue", {})
        for cur, amount in overdue.items():
            at_stake[cur] = at_stake.get(cur, Decimal(0)) + Decimal(amount)
    day = DayReport(day=today, sweep=run["status"] + (f" ({run['detail']})" if run["status"] == "halted" else ""),
                    notices=kinds, suspended=suspended, reactivated=reactivated,
                    payments=[f"{p.customer_id} {p.amount} {p.currency}" for p in paid],
                    overdue_suspended={c: str(a) for c, a in sorted(at_stake.items())})
    say(f"{day.day}: sweep {day.sweep}; {sum(kinds.values())} e-mail(s); suspended {len(suspended)}, "
        f"reactivated {len(reactivated)}, payments {len(paid)}")
    return day
