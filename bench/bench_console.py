"""Benchmark: the console's portfolio view over N customers in Azurite (default 5,000, 2 % in arrears).

Prints seeding time, GET /api/collections/portfolio computed in-process (load ledgers, preview every customer,
ageing, first page) and the portfolio page rendered from it, each the median of 3 runs, plus peak RSS.
Run: .venv/bin/python bench/bench_console.py [N] [--arrears-share 0.02]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.azurite import Azurite
from shared.auth import Principal, Role
from shared.collections.ledger import CustomerLedger, apply_events
from shared.console import pages
from shared.context import AppContext
from shared.domain.events import CustomerUpdated, InvoiceIssued
from shared.services.portfolio import portfolio
from shared.settings import load_settings

POLICY = Path(__file__).resolve().parents[1] / "config" / "collections-policy.yaml"


def ledger(i: int, overdue: bool, today: date) -> CustomerLedger:
    cid = str(uuid.UUID(int=random.getrandbits(128)))
    now = datetime.now(UTC)
    due = today - timedelta(days=random.randint(5, 120)) if overdue else today + timedelta(days=random.randint(1, 30))
    events: list[Any] = [
        CustomerUpdated(event_id=f"c-{i}", customer_id=cid, occurred_at=now, name=f"Customer {i} Ltd"),
        InvoiceIssued(event_id=f"i-{i}", customer_id=cid, occurred_at=now, invoice_id=f"INV-{i}",
                      amount=f"{random.randint(100, 90000)}.{random.randint(0, 99):02d}",
                      currency=random.choice(("CNY", "CNY", "CNY", "USD")),
                      issue_date=due - timedelta(days=30), due_date=due)]
    return apply_events(CustomerLedger(customer_id=cid), events)


def timed(fn: Any, runs: int = 3) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("customers", nargs="?", type=int, default=5000)
    parser.add_argument("--arrears-share", type=float, default=0.02)
    args = parser.parse_args()
    random.seed(12)
    azurite = Azurite.on_free_ports().start()
    try:
        ctx = AppContext(load_settings(AzureWebJobsStorage=azurite.connection_string, CSPGUARD_POLICY_FILE=str(POLICY)))
        today = date.today()
        ledgers = [ledger(i, random.random() < args.arrears_share, today) for i in range(args.customers)]
        start = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda led: ctx.stores.ledgers.put(led.customer_id, "ledger", led), ledgers))
        seeded = time.perf_counter() - start
        now = datetime.now(UTC)
        api_s, data = timed(lambda: portfolio(ctx, now, 1, 25))
        viewer = Principal(name="bench@partner.example", roles=frozenset({Role.VIEWER}), source="entra")
        page = pages.Page(principal=viewer, lang="zh-CN", path="/api/console",
                          fetch=lambda method, route, query: (200, data))
        page_s, html = timed(lambda: pages.portfolio(page))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        stages = [(s["stage"], s["customers"]) for s in data["stages"]]
        print(f"customers: {args.customers} ({args.arrears_share:.0%} in arrears), seeded in {seeded:.1f} s")
        print(f"portfolio JSON (load + preview + ageing + page 1): {api_s:.2f} s median of 3 "
              f"= {args.customers / api_s:,.0f} customers/s; stages {stages}")
        print(f"portfolio page render (Jinja2 + SVG): {page_s * 1000:.1f} ms, {len(html):,} bytes")
        print(f"peak RSS: {rss:.0f} MiB")
    finally:
        azurite.stop()


if __name__ == "__main__":
    main()
