"""``bench_fraud_detectors.py --source lookalikes``: the cases fraud analysts worry about, one customer each,
among ordinary background customers, replayed day by day through the same calls as the scan.

Usage items are Partner Center camelCase dicts parsed as the scan parses them (``UsageLineItem`` then
``to_line``); profiles come from ``profile_for`` over collections ledgers built by applying events (the
declared migration is a ``customer.updated`` from ``baseline_event``, the operator path) plus the
subscriptions' creation dates. Each case prints its expected and actual outcome and the scope the signal
named (the subscription / Azure subscriptions containment would target).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from shared.collections.ledger import CustomerLedger, apply_event
from shared.domain import CustomerUpdated
from shared.fraud import History, Outcome, aggregate, assess, parse_rules, peer_baselines
from shared.partner_center import UsageLineItem
from shared.services.fraud.baseline import baseline_event
from shared.services.fraud.scan import profile_for, to_line

START = date(2026, 8, 1)
DAYS = 75
SCORE_FROM = 20
VM = ("Virtual Machines", "Dv3/DSv3 Series", "D4s v3")
DISK = ("Storage", "Standard SSD Managed Disks", "E10 Disks")
GPU = ("Virtual Machines", "NCv3 Series", "NC6s v3")


@dataclass
class Stream:
    """One consuming subscription: (plan or subscription, Azure subscription), its daily amount by day."""

    sub: str
    ent: str
    region: str
    meter: tuple[str, str, str]
    amount: dict[int, float]


@dataclass
class Tenant:
    cid: str
    segment: str | None
    created: date
    streams: list[Stream] = field(default_factory=list)
    case: str = ""
    misuse_from: int | None = None  # day the misuse starts (None: legitimate)
    expect_scope: set[str] = field(default_factory=set)  # ids the signal must name
    events: list[Any] = field(default_factory=list)


def _noise(rng: random.Random, base: float, days: range, sigma: float = 0.08) -> dict[int, float]:
    return {d: base * rng.lognormvariate(0, sigma) * (0.7 if (START + timedelta(d)).weekday() >= 5 else 1.0)
            for d in days}


def _ordinary(rng: random.Random, i: int, segment: str, base: float) -> Tenant:
    t = Tenant(f"bg{i:04d}", segment, START - timedelta(days=rng.randint(200, 900)))
    for k in range(rng.randint(1, 3)):
        t.streams.append(Stream(f"{t.cid}-plan", f"{t.cid}-az{k}", "chinanorth2", (VM, DISK)[k % 2],
                                _noise(rng, base / 2, range(DAYS))))
    return t


def build(seed: int = 7, background: int = 300) -> list[Tenant]:
    rng = random.Random(seed)
    out = [_ordinary(rng, i, "standard", 150 * rng.lognormvariate(0, 0.8)) for i in range(background)]
    out += [_ordinary(rng, background + i, "enterprise", 20000 * rng.lognormvariate(0, 0.5)) for i in range(20)]
    # 1. a brand-new tenant unknown to the CRM running 8 GPU VMs from its first day
    day = 40
    t = Tenant("new-gpu", None, START + timedelta(days=day - 2), case="new tenant without CRM data, 8 GPU VMs",
               misuse_from=day)
    t.streams.append(Stream("new-gpu-plan", "new-gpu-az0", "chinanorth2", GPU, _noise(rng, 8 * 850, range(day, DAYS))))
    t.expect_scope = {"new-gpu-plan", "new-gpu-az0"}
    out.append(t)
    t = Tenant("new-plain", None, START + timedelta(days=day - 3), case="new tenant without CRM data, ordinary use")
    t.streams.append(Stream("new-plain-plan", "new-plain-az0", "chinanorth2", VM, _noise(rng, 90, range(day, DAYS))))
    out.append(t)
    # 2. one dev subscription inside an enterprise at 60,000/day goes 11x (+8,500/day)
    t = Tenant("ent-dev", "enterprise", START - timedelta(days=700), case="one subscription inside an enterprise 11x",
               misuse_from=50)
    for k in range(6):
        t.streams.append(Stream(f"ent-dev-plan{k}", f"ent-dev-az{k}", "chinanorth2", VM,
                                _noise(rng, 11800, range(DAYS), 0.05)))
    dev = Stream("ent-dev-lic", "", "chinaeast2", VM, _noise(rng, 850, range(DAYS), 0.05))
    for d in range(50, DAYS):
        dev.amount[d] *= 11
    t.streams.append(dev)
    t.expect_scope = {"ent-dev-lic"}
    out.append(t)
    # 3. twenty new Azure subscriptions start under one Azure plan within two days
    t = Tenant("plan-burst", "standard", START - timedelta(days=400), case="20 Azure subscriptions under a plan",
               misuse_from=55)
    for k in range(2):
        t.streams.append(Stream("plan-burst-plan", f"plan-burst-az{k}", "chinanorth2", VM,
                                _noise(rng, 400, range(DAYS))))
    for k in range(20):
        t.streams.append(Stream("plan-burst-plan", f"plan-burst-new{k}", "chinanorth2", VM,
                                _noise(rng, 60, range(55 + k % 2, DAYS))))
    t.expect_scope = {"plan-burst-plan", "plan-burst-new0"}
    out.append(t)
    # 4. a declared migration: 2.2x spend in a new region for two weeks, declared through the operator path
    t = Tenant("migration", "standard", START - timedelta(days=500), case="declared migration (2.2x, new region)")
    t.streams.append(Stream("migration-plan", "migration-az0", "chinanorth2", VM, _noise(rng, 2000, range(DAYS))))
    t.streams.append(Stream("migration-plan", "migration-az1", "chinaeast3", VM, _noise(rng, 2400, range(45, 59))))
    t.events.append(baseline_event("migration", {"planned_changes": [{
        "starts_on": (START + timedelta(days=44)).isoformat(), "ends_on": (START + timedelta(days=60)).isoformat(),
        "expected_factor": 2.5, "regions": ["chinaeast3"], "note": "migration from the data centre"}]}))
    out.append(t)
    # 5. a month-end batch from the first month of history (4x on the last two days of every month)
    t = Tenant("month-end", "standard", START - timedelta(days=300), case="month-end batch from the first month")
    amounts = _noise(rng, 1500, range(DAYS))
    for d in amounts:
        if ((START + timedelta(days=d)) + timedelta(days=2)).month != (START + timedelta(days=d)).month:
            amounts[d] *= 4
    t.streams.append(Stream("month-end-plan", "month-end-az0", "chinanorth2", VM, amounts))
    out.append(t)
    # 6. a region move: spend moves from chinanorth2 to chinaeast2 over three days, the total stays
    t = Tenant("region-move", "standard", START - timedelta(days=300), case="region move with a matching drop")
    old = _noise(rng, 3000, range(DAYS))
    new: dict[int, float] = {}
    for d in range(48, DAYS):
        share = min(1.0, (d - 47) / 3)
        new[d], old[d] = old[d] * share, old[d] * (1 - share)
    t.streams.append(Stream("region-move-plan", "region-move-az0", "chinanorth2", VM, old))
    t.streams.append(Stream("region-move-plan", "region-move-az0", "chinaeast2", VM, new))
    out.append(t)
    return out


def _item(t: Tenant, s: Stream, day: int, amount: float) -> dict[str, object]:
    when = (START + timedelta(days=day)).isoformat() + "T00:00:00Z"
    return {"customerId": t.cid, "customerName": t.cid.upper(), "subscriptionId": s.sub, "entitlementId": s.ent,
            "entitlementDescription": s.ent and f"Azure subscription {s.ent}", "usageDate": when,
            "meterCategory": s.meter[0], "meterSubCategory": s.meter[1], "meterName": s.meter[2],
            "meterId": f"{s.meter[2]}|{s.region}", "resourceLocation": s.region, "resourceUri":
            f"/subscriptions/{s.ent or s.sub}/vm", "quantity": 1, "unitPrice": round(amount, 2),
            "billingPreTaxTotal": round(amount, 2), "pricingCurrency": "CNY"}


def run(args: Any) -> None:
    root = Path(__file__).resolve().parents[1]
    rules = parse_rules((root / "config" / "fraud-rules.yaml").read_text())
    tenants = build(args.seed)
    ledgers: dict[str, CustomerLedger] = {}
    for t in tenants:
        if t.segment is None:
            continue  # unknown to the CRM: no ledger at all
        ledger = apply_event(CustomerLedger.empty(t.cid), CustomerUpdated(
            event_id=f"seg-{t.cid}", customer_id=t.cid, occurred_at=datetime(2026, 7, 1, tzinfo=None).astimezone(),
            segment=t.segment))
        for e in t.events:
            ledger = apply_event(ledger, e)
        ledgers[t.cid] = ledger
    ctx = cast(Any, SimpleNamespace(stores=SimpleNamespace(ledger=ledgers.get)))
    created = {t.cid: {s.sub: t.created for s in t.streams} for t in tenants}
    history, profiles, peers = History(), {}, {}
    first: dict[str, tuple[int, list[Any]]] = {}
    for day in range(DAYS):
        items = [_item(t, s, day, s.amount[day]) for t in tenants for s in t.streams if day in s.amount]
        lines = [ln for ln in (to_line(UsageLineItem.model_validate(i)) for i in items) if ln is not None]
        history = aggregate(lines, history)
        for ln in lines:
            if ln.customer_id not in profiles and (p := profile_for(ctx, ln.customer_id, rules,
                                                                   created[ln.customer_id])) is not None:
                profiles[ln.customer_id] = p
        if day < SCORE_FROM:
            continue
        now = datetime.combine(START + timedelta(days=day + 1), datetime.min.time()).replace(hour=6)
        if not peers or now.weekday() == 0:
            peers = peer_baselines(history, profiles, before=now.date(), default_segment=rules.default_segment)
        for a in assess(history, profiles, rules, now, peers):
            if a.outcome is not Outcome.ALLOW and a.customer_id not in first:
                first[a.customer_id] = (day, list(a.hits))
    cases = [t for t in tenants if t.case]
    ok = 0
    print(f"source: bench/_fraud_lookalikes.py (seed {args.seed}): {len(tenants) - len(cases)} background "
          f"customers + {len(cases)} cases x {DAYS} days from {START}; scored days {SCORE_FROM}..{DAYS - 1}; "
          f"rules {rules.version}\n")
    print(f"  {'case':<44} {'expected':<9} {'outcome':<42} scope named")
    for t in cases:
        got = first.get(t.cid)
        want = "flag" if t.misuse_from is not None else "allow"
        if got is None:
            outcome, scope_ok, scope = "allowed", True, ""
        else:
            d, hits = got
            dets = sorted({h.signal.detector.value for h in hits})
            named = {x for h in hits for x in (*h.signal.subscription_ids, *h.signal.entitlement_ids)}
            when = f"day {d} ({START + timedelta(days=d)})" + (
                f", {d - t.misuse_from} run(s) after start" if t.misuse_from is not None else "")
            outcome, scope = f"flagged {when} by {', '.join(dets)}", ", ".join(sorted(named))[:80]
            scope_ok = t.expect_scope <= named
        right = (want == "flag") == (got is not None) and (got is None or t.misuse_from is None or
                                                           (got[0] >= t.misuse_from and scope_ok))
        ok += right
        print(f"{'OK ' if right else 'BAD'} {t.case:<44} {want:<9} {outcome:<42} {scope}")
    bg_fp = sum(1 for t in tenants if not t.case and t.cid in first)
    print(f"\n{ok}/{len(cases)} cases as expected; background customers flagged: {bg_fp}/{len(tenants) - len(cases)}")
    by_det: dict[str, int] = defaultdict(int)
    for _, hits in first.values():
        for h in hits:
            by_det[h.signal.detector.value] += 1
    print(f"first-flag hits by detector: {dict(by_det)}")
