"""Benchmark: a full collections sweep over N customers with a share in arrears, through the real services.

Stack: Azurite, the Partner Center sandbox, the SMTP mailbox and function_app.py under the local runner (the
same handlers the Functions host calls: sweep shards, finalize, enforcement, notifications). Set-up writes
every ledger directly (the ledger ``apply_events`` builds, as ``record_event`` would store it) and, for the
customers in arrears, a case whose final notice went out 10 days ago, so the sweep may suspend them; those
customers exist in the sandbox with an Azure plan (in the policy's suspension scope) and a licence.

Timed: POST /api/collections/sweep -> every shard evaluated -> finalize (blast-radius check) -> every
released suspension executed in Partner Center. Printed: wall time per phase, the sandbox call log (calls
made, per customer acted on, calls naming customers in good standing: goal 0), peak memory, and an
extrapolation to the default size when a smaller one was run. Never asserts on time.
Run: .venv/bin/python bench/bench_sweep.py [--customers 20000] [--arrears 0.02] [--shard-size 200]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from devtools.azurite import Azurite  # noqa: E402
from devtools.mailbox import Mailbox  # noqa: E402
from devtools.polling import wait_until  # noqa: E402
from devtools.runner import DEFAULT_KEYS, LocalRunner  # noqa: E402
from devtools.sandbox import Sandbox, SandboxConfig  # noqa: E402
from shared.collections import CollectionsCase, CustomerLedger, SentNotice, apply_events, parse_policy  # noqa: E402
from shared.domain import CustomerUpdated, InvoiceIssued, PaymentReceived  # noqa: E402
from shared.services.payments import FEED  # noqa: E402
from shared.services.state import CollectionsState, FeedStatus, Stores  # noqa: E402
from shared.storage.azure import AzureTables  # noqa: E402
from tests.e2e_collections.conftest import HERE as E2E  # noqa: E402
from tests.e2e_collections.conftest import stack_settings  # noqa: E402

DEFAULT_CUSTOMERS = 20_000
POLICY = parse_policy((E2E / "policy-e2e.yaml").read_text(encoding="utf-8"))  # the stack's policy


def _ledger(cid: str, arrears: bool, today: date, stamp: datetime) -> CustomerLedger:
    """Arrears: one invoice 40 days past due. Good standing: one invoice 40 days past due, paid in full."""
    due = today - timedelta(days=40)
    events: list[Any] = [
        CustomerUpdated(event_id=f"{cid}-c", customer_id=cid, occurred_at=stamp, type="customer.updated",
                        name=cid, contact_email=f"ap@{cid}.example"),
        InvoiceIssued(event_id=f"{cid}-i", customer_id=cid, occurred_at=stamp, type="invoice.issued",
                      invoice_id="INV-1", amount=Decimal("5000.00"), currency="CNY",
                      issue_date=due - timedelta(days=30), due_date=due),
    ]
    if not arrears:
        events.append(PaymentReceived(event_id=f"{cid}-p", customer_id=cid, occurred_at=stamp,
                                      type="payment.received", payment_id="PAY-1", amount=Decimal("5000.00"),
                                      currency="CNY", received_at=stamp, invoice_id="INV-1"))
    return apply_events(CustomerLedger.empty(cid), events)


def _noticed_case(cid: str, now: datetime) -> CollectionsState:
    """An open case whose final notice was delivered 10 days ago (the policy asks for 7)."""
    case = CollectionsCase(case_id=f"{cid}/bench", customer_id=cid, policy_version=POLICY.version,
                           opened_at=now - timedelta(days=39))
    sent = [SentNotice(stage_id="overdue", sent_at=now - timedelta(days=39), case_id=case.case_id),
            SentNotice(stage_id="final_notice", sent_at=now - timedelta(days=10), case_id=case.case_id)]
    return CollectionsState(customer_id=cid, case=case, notices=sent)


def _group_hwm_mib(pgid: int | None) -> float | None:
    """Peak RSS (VmHWM) summed over the processes of one process group (Azurite runs in its own)."""
    if pgid is None:
        return None
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            for line in Path(f"/proc/{entry}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1024


def _wait(check: Any, timeout: float, what: str, every: float = 0.2) -> Any:
    return wait_until(check, what, timeout, interval=every)


GOOD_PREFIX = "00000000-0000-4000-8000-"  # customers in good standing: never called at Partner Center


def setup(admin: httpx.Client, stores: Stores, n: int, n_arrears: int, now: datetime) -> dict[str, str]:
    """Write the portfolio; returns the arrears customers' ids -> their Azure plan subscription id."""
    plans: dict[str, str] = {}
    for i in range(n_arrears):
        created = admin.post("/_sandbox/customers", json={"company_name": f"Arrears {i} Ltd", "subscriptions": [
            {"kind": "azure_plan", "friendly_name": "Azure plan"},
            {"kind": "license", "friendly_name": "Office 365 E3"}]}).raise_for_status().json()
        plans[created["id"]] = next(s["id"] for s in created["subscriptions"]
                                    if s["offerId"].startswith("DZH318Z0BPS6"))
    good = [f"{GOOD_PREFIX}{i:012d}" for i in range(n - n_arrears)]  # tenant GUIDs (ingress requires them)
    today = now.date()

    def write(cid: str) -> None:
        arrears = cid in plans
        stores.ledgers.upsert(cid, "ledger", _ledger(cid, arrears, today, now - timedelta(days=41)))
        if arrears:
            stores.cases.upsert(cid, "collections", _noticed_case(cid, now))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, [*plans, *good]))
    stores.feeds.upsert("feed", FEED, FeedStatus(name=FEED, last_event_at=now, events=n))  # the feed is fresh
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--arrears", type=float, default=0.02, help="share of customers in arrears")
    parser.add_argument("--shard-size", type=int, default=200)
    parser.add_argument("--azure-http-logs", action="store_true",
                        help="keep the Azure SDK's per-request INFO logs (the runner's root logger is at INFO)")
    args = parser.parse_args()
    if not args.azure_http_logs:  # one JSON line per storage request otherwise: most of the CPU locally
        logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    n, n_arrears = args.customers, round(args.customers * args.arrears)
    limit = n_arrears + 100
    azurite = Azurite.on_free_ports().start()
    sandbox = Sandbox(SandboxConfig(seed=5, customers=0)).start()
    mailbox = Mailbox(port=0).start()
    settings = stack_settings(azurite, sandbox, mailbox, CSPGUARD_MAX_SUSPENSIONS_PER_RUN=str(limit),
                              CSPGUARD_SWEEP_SHARD_SIZE=str(args.shard_size))
    runner = LocalRunner(settings=settings, port=0, enable_timers=False, host_json=ROOT / "host.json").start()
    print(f"portfolio: {n} customers, {n_arrears} in arrears ({args.arrears:.1%}), shard size {args.shard_size}")
    print(f"Azure SDK per-request logs: {'on' if args.azure_http_logs else 'silenced (WARNING)'}")
    print(f"CSPGUARD_MAX_SUSPENSIONS_PER_RUN set to {limit} (and share 100%) so the blast-radius guard "
          "does not halt the run")
    try:
        api = httpx.Client(base_url=f"{runner.base_url}/api", timeout=60,
                           headers={"x-functions-key": DEFAULT_KEYS.function, "x-actor": "bench@partner.example"})
        admin = httpx.Client(base_url=sandbox.base_url, verify=sandbox.ssl_context(), timeout=60)
        stores = Stores(AzureTables.from_connection_string(azurite.connection_string))
        now = datetime.now(UTC)
        t = time.perf_counter()
        plans = setup(admin, stores, n, n_arrears, now)
        print(f"set-up (not timed): ledgers and cases written in {time.perf_counter() - t:.1f} s")

        since = admin.get("/_sandbox/calls", params={"since": 10**9}).json()["last"]
        t0 = time.perf_counter()
        run = api.post("/collections/sweep").raise_for_status().json()
        t_started = time.perf_counter()
        done = _wait(lambda: (lambda r: r if r["status"] != "running" else None)(
            api.get(f"/collections/runs/{run['run_id']}").json()), 3600, "the sweep", every=0.5)
        t_final = time.perf_counter()

        def all_suspended() -> bool:
            state = admin.get("/_sandbox/state", params={"limit": 10**7}).json()
            status = {s["id"]: s["status"] for c in state["customers"] for s in c["subscriptions"]}
            return all(status.get(p) == "suspended" for p in plans.values())
        if done["status"] == "completed":
            _wait(all_suspended, 3600, "every released suspension", every=0.5)
        t_end = time.perf_counter()

        calls = admin.get("/_sandbox/calls", params={"since": since}).json()["calls"]
        pc = [c for c in calls if not c["path"].startswith("/_sandbox")]
        per_customer = Counter(next((cid for cid in plans if cid in c["path"]), None) for c in pc)
        in_good = sum(1 for c in pc if f"/{GOOD_PREFIX}" in c["path"])
        methods = Counter(c["method"] for c in pc)
        acted = done["customers_to_suspend"]
        wall = t_end - t0
        print(f"run: {done['run_id']} status={done['status']} shards={done['shards']} "
              f"customers={done['customers']} planned_suspensions={done['planned_suspensions']} "
              f"notices={done['notices']} reactivations={done['reactivations']} errors={len(done['errors'])}")
        print(f"wall time (sweep start -> last suspension in Partner Center): {wall:.1f} s")
        print(f"  start_sweep (HTTP, fan-out of {done['shards']} shard messages): {t_started - t0:.2f} s")
        print(f"  shards evaluated + finalize:                        {t_final - t_started:.1f} s "
              f"({n / (t_final - t_started):,.0f} customers/s)")
        print(f"  enforcement of {done['planned_suspensions']} released suspensions:         "
              f"{t_end - t_final:.1f} s")
        print(f"Partner Center calls: {len(pc)} ({dict(methods)}); customers acted on: {acted}; "
              f"per customer acted on: {len(pc) / acted if acted else 0:.2f}")
        if pc:
            stamps = sorted(datetime.fromisoformat(c["at"].replace("Z", "+00:00")).timestamp() for c in pc)
            print(f"  first -> last Partner Center call: {stamps[-1] - stamps[0]:.1f} s "
                  f"(enforcement phase {t_end - t_final:.1f} s)")
        print(f"  calls naming customers in good standing: {in_good} (goal 0); calls not naming a customer "
              f"in arrears (token, catalogue...): {per_customer.get(None, 0)}")
        print(f"peak RSS: this process (runner + app + sandbox) "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
              f"Azurite {_group_hwm_mib(azurite.pid) or 0:.0f} MiB")
        if n < DEFAULT_CUSTOMERS:
            scale = DEFAULT_CUSTOMERS / n
            print(f"extrapolation to {DEFAULT_CUSTOMERS} customers (linear in customers, same arrears share): "
                  f"~{(t_final - t_started) * scale + (t_end - t_final) * scale:.0f} s, "
                  f"~{len(pc) * scale:.0f} Partner Center calls")
    finally:
        runner.stop()
        mailbox.stop()
        sandbox.stop()
        azurite.stop()


if __name__ == "__main__":
    main()
