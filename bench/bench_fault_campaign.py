"""Benchmark: a bounded fault campaign against the whole local stack; counts what the faults broke.

Set-up (no faults): N customers in the sandbox, each with an Azure plan (in the suspension scope) and a licence
(out of scope), 40 days overdue with their final notice delivered and aged past the notice period; a few are
paid up, a few pay during the sweep and a few once csp-guard has suspended them. Then, at once: Partner Center
answers 5xx to 20 % of calls and a 429 storm hits the first calls, the SMTP relay is down, a sweep starts and the
first payers pay while it runs. Mid-enforcement (at the first successful suspension) the runner process is killed
(SIGKILL) and restarted; then Azurite is restarted (data kept on disk); after ``--smtp-down`` seconds the relay
comes back. The bench waits until the true state settles (bounded by ``--deadline``) and prints, each with the
goal 0:

- wrongful suspensions: a subscription of a paid-up customer, or one out of the stage's scope, ever suspended;
- duplicate effects: successful Partner Center PATCHes beyond the changes the audit log records;
- paid-but-suspended: a customer who paid (during the sweep, or after being suspended) still suspended at the end;
- lost events: payment events sent but neither in the ledger nor listed as dead letters;
- lost notices: a verified suspension or reactivation without its e-mail to the customer (a suspension lifted
  because the customer paid meanwhile is told by the reactivation e-mail: "suspended" goes out only if it stands);
and the sandbox's true state of every customer against the expected one.

The runner holds a running message for 20 s here (DEVTOOLS_RUNNER_MESSAGE_LEASE_SECONDS; the host uses 10 min), so
the killed runner's messages come back within the run; their claims are taken over once stale (2 minutes).
Run: .venv/bin/python bench/bench_fault_campaign.py [--customers 12] [--deadline 300]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from devtools.azurite import Azurite, free_port  # noqa: E402
from devtools.mailbox import Mailbox  # noqa: E402
from devtools.polling import wait_until  # noqa: E402
from devtools.runner import DEFAULT_KEYS  # noqa: E402
from devtools.sandbox import Sandbox, SandboxConfig  # noqa: E402
from shared.services.state import CollectionsState, Stores  # noqa: E402
from shared.storage.azure import AzureTables  # noqa: E402
from tests.e2e_collections.conftest import stack_settings  # noqa: E402  (one source for the stack's settings)

LEASE_SECONDS = 20


def _event(kind: str, customer_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"{kind}-{uuid.uuid4().hex[:12]}", "customer_id": customer_id,
            "occurred_at": datetime.now(UTC).isoformat(), **fields}


class RunnerProcess:
    """function_app.py under ``python -m devtools.runner`` in its own process, so it can be killed for real."""

    def __init__(self, settings: dict[str, str], port: int, log: Path) -> None:
        self.port, self.log = port, log
        self.settings_file = log.with_suffix(".settings.json")
        self.settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": settings}), encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DEVTOOLS_RUNNER_MESSAGE_LEASE_SECONDS": str(LEASE_SECONDS)}
        with self.log.open("ab") as out:
            cmd = [sys.executable, "-m", "devtools.runner", "--settings", str(self.settings_file),
                   "--port", str(self.port), "--no-timers", "--host-json", str(ROOT / "host.json")]
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        wait_until(self._healthy, "the runner to listen", 60)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/api/health", timeout=2).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _plan(created: dict[str, Any]) -> tuple[str, str]:
    subs = created["subscriptions"]
    plan = next(s["id"] for s in subs if s["offerId"].startswith("DZH318Z0BPS6"))
    return plan, next(s["id"] for s in subs if s["id"] != plan)


def _truth(admin: httpx.Client) -> dict[str, str]:
    state = admin.get("/_sandbox/state", params={"limit": 100000}).json()
    return {s["id"]: s["status"] for c in state["customers"] for s in c["subscriptions"]}


def _rewind(state: CollectionsState | None) -> CollectionsState | None:  # the notice period passes
    assert state is not None and state.case is not None
    case = state.case.model_copy(update={"opened_at": state.case.opened_at - timedelta(days=8)})
    notices = [m.model_copy(update={"sent_at": m.sent_at - timedelta(days=8)}) for m in state.notices]
    return state.model_copy(update={"case": case, "notices": notices})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=12)
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds the campaign may take to settle")
    parser.add_argument("--smtp-down", type=float, default=45.0, help="seconds the SMTP relay is down")
    args = parser.parse_args()
    n = max(args.customers, 5)
    work = Path(tempfile.mkdtemp(prefix="fault-campaign-"))
    azurite = Azurite(blob_port=free_port(), queue_port=free_port(), table_port=free_port(),
                      workdir=work / "azurite", in_memory=False).start()
    sandbox = Sandbox(SandboxConfig(seed=14, customers=0)).start()
    smtp_port = free_port()
    mailbox = Mailbox(port=smtp_port).start()
    settings = stack_settings(azurite, sandbox, mailbox, CSPGUARD_MAX_SUSPENSIONS_PER_RUN=str(n + 10))
    app_port = free_port()
    runner = RunnerProcess(settings, app_port, work / "runner.log")
    runner.start()
    api = httpx.Client(base_url=f"http://127.0.0.1:{app_port}/api", timeout=30,
                       headers={"x-functions-key": DEFAULT_KEYS.function, "x-actor": "bench@partner.example"})
    admin = httpx.Client(base_url=sandbox.base_url, verify=sandbox.ssl_context(), timeout=30)
    stores = Stores(AzureTables.from_connection_string(azurite.connection_string))
    try:
        # ------------------------------------------------------------------ set-up, no faults
        today = date.today()
        groups: dict[str, str] = {}  # customer -> "non-payer" | "payer" (pays during the sweep) | "paid-up"
        plans: dict[str, tuple[str, str]] = {}
        emails: dict[str, str] = {}
        events: list[dict[str, Any]] = []
        for i in range(n):
            group = ("paid-up" if i < 2 else "payer" if i < 2 + n // 6 else "late-payer" if i < 2 + n // 3
                     else "non-payer")
            created = admin.post("/_sandbox/customers", json={"company_name": f"Campaign {i} Ltd", "subscriptions": [
                {"kind": "azure_plan", "friendly_name": "Azure plan"},
                {"kind": "license", "friendly_name": "Office 365 E3"}]}).raise_for_status().json()
            cid = created["id"]
            groups[cid], plans[cid], emails[cid] = group, _plan(created), f"ap{i}@campaign.example"
            events += [_event("customer.updated", cid, name=f"Campaign {i} Ltd", contact_email=emails[cid]),
                       _event("invoice.issued", cid, invoice_id=f"INV-{i}", amount="5000.00", currency="CNY",
                              issue_date=(today - timedelta(days=70)).isoformat(),
                              due_date=(today - timedelta(days=40)).isoformat())]
            if group == "paid-up":
                events.append(_event("payment.received", cid, payment_id=f"PRE-{i}", amount="5000.00",
                                     currency="CNY", received_at=datetime.now(UTC).isoformat(), invoice_id=f"INV-{i}"))
        api.post("/payment-events", json=events).raise_for_status()
        overdue = [c for c, g in groups.items() if g != "paid-up"]
        wait_until(lambda: all((s := stores.collections_state(c)).case is not None and s.notices for c in overdue),
                   "final notices recorded", 180)
        for cid in overdue:
            stores.cases.update(cid, "collections", _rewind)
        calls_before = admin.get("/_sandbox/calls", params={"since": 10**9}).json()["last"]
        print(f"set-up: {n} customers ({Counter(groups.values())}), final notices delivered and aged 8 days")

        # ------------------------------------------------------------------ the campaign
        t0 = time.monotonic()
        admin.post("/_sandbox/faults", json={"seed": 14, "error_rate": 0.2, "storm_429": 25,
                                              "storm_retry_after": 1}).raise_for_status()
        mailbox.stop()
        smtp_down_at = time.monotonic()
        run = api.post("/collections/sweep").raise_for_status().json()
        sent_payments: dict[str, str] = {}
        late = [c for c, g in groups.items() if g == "late-payer"]  # pay once csp-guard has suspended them

        def pay(customers: list[str]) -> None:
            for cid in customers:
                payment = _event("payment.received", cid, payment_id=f"PAY-{cid[:8]}", amount="5000.00",
                                 currency="CNY", received_at=datetime.now(UTC).isoformat())
                api.post("/payment-events", json=payment).raise_for_status()
                sent_payments[cid] = payment["event_id"]
                time.sleep(0.5)
        pay([c for c, g in groups.items() if g == "payer"])  # while the sweep runs

        def first_suspension() -> bool:
            calls = admin.get("/_sandbox/calls", params={"since": calls_before}).json()["calls"]
            return any(c["method"] == "PATCH" and c["status"] == 200 for c in calls)
        try:
            wait_until(first_suspension, "a first suspension", 90, interval=0.1)
        except (TimeoutError, AssertionError):
            print("no suspension within 90 s: killing the runner anyway")
        runner.kill()
        print(f"  t={time.monotonic() - t0:5.1f} s  runner killed (SIGKILL) mid-enforcement")
        time.sleep(3)
        runner.start()
        print(f"  t={time.monotonic() - t0:5.1f} s  runner restarted")
        time.sleep(5)
        azurite.stop()
        time.sleep(2)
        azurite = Azurite(blob_port=azurite.blob_port, queue_port=azurite.queue_port, table_port=azurite.table_port,
                          workdir=work / "azurite", in_memory=False).start()
        print(f"  t={time.monotonic() - t0:5.1f} s  Azurite restarted (data kept)")
        time.sleep(max(0.0, args.smtp_down - (time.monotonic() - smtp_down_at)))
        mailbox = Mailbox(port=smtp_port).start()
        smtp_down_for = time.monotonic() - smtp_down_at
        print(f"  t={time.monotonic() - t0:5.1f} s  SMTP relay back after {smtp_down_for:.0f} s")
        admin.post("/_sandbox/faults", json={"seed": 14, "error_rate": 0.2}).raise_for_status()  # 5xx go on

        def expected_plan(cid: str) -> str:
            return "suspended" if groups[cid] == "non-payer" else "active"

        def outcome() -> dict[str, Any]:
            truth = _truth(admin)
            audits: dict[str, list[Any]] = {c: [e for e in ctx_history(api, c) if e["action"] in
                                                ("suspend", "reactivate") and e["outcome"] in ("done", "partial")]
                                            for c in groups}
            return {"truth": truth, "audits": audits}

        def settled() -> dict[str, Any] | None:
            state = outcome()
            due = [c for c in late if c not in sent_payments and (state["truth"][plans[c][0]] == "suspended"
                                                                  or time.monotonic() - t0 > args.deadline / 2)]
            if due:
                pay(due)
                print(f"  t={time.monotonic() - t0:5.1f} s  {len(due)} suspended customer(s) paid")
                return None
            if any(state["truth"][plans[c][0]] != expected_plan(c) for c in groups):
                return None
            if lost_notices(state, mailbox, groups, emails)[0]:
                return None
            return state

        try:
            final = wait_until(settled, "the campaign to settle", max(10.0, args.deadline - (time.monotonic() - t0)),
                               interval=2.0)
            print(f"  t={time.monotonic() - t0:5.1f} s  settled: true state matches the expected one")
        except (TimeoutError, AssertionError):
            final = outcome()
            print(f"  t={time.monotonic() - t0:5.1f} s  deadline reached before the state settled")
        admin.post("/_sandbox/faults", json={"seed": 14}).raise_for_status()

        # ------------------------------------------------------------------ figures
        calls = admin.get("/_sandbox/calls", params={"since": calls_before}).json()["calls"]
        ok_patches = Counter(c["path"].rsplit("/", 1)[-1] for c in calls
                             if c["method"] == "PATCH" and c["status"] == 200)
        audited = Counter(s for c in groups for e in final["audits"][c] for s in e["evidence"]["changed"])
        truth = final["truth"]
        wrongful = sorted({s for c in groups for s in plans[c] if ok_patches[s] and (
            groups[c] == "paid-up" or s == plans[c][1])})
        duplicates = sum(max(0, ok_patches[s] - audited[s]) for s in ok_patches)
        paid_suspended = [c for c, g in groups.items() if g != "non-payer" and truth[plans[c][0]] == "suspended"]
        letters = api.get("/dead-letters", params={"status": "all"}).json()["items"]
        listed = "".join(d["body"] for d in letters)
        lost_events = [e for c, e in sent_payments.items()
                       if e not in ((stores.ledger(c) or _Empty()).seen_event_ids) and e not in listed]
        missing, expected_mails = lost_notices(final, mailbox, groups, emails)
        print(f"\ncampaign: {n} customers, sweep {run['run_id'][:8]}, {len(calls)} Partner Center calls "
              f"({sum(1 for c in calls if c['status'] in (500, 503))} x 5xx, "
              f"{sum(1 for c in calls if c['status'] == 429)} x 429), runner killed once, Azurite restarted once, "
              f"SMTP down {smtp_down_for:.0f} s, {time.monotonic() - t0:.0f} s in all")
        print(f"wrongful suspensions   {len(wrongful):3d}   (goal 0)  {wrongful or ''}")
        print(f"duplicate effects      {duplicates:3d}   (goal 0)  successful PATCHes beyond audited changes")
        print(f"paid-but-suspended     {len(paid_suspended):3d}   (goal 0)  {paid_suspended or ''}")
        print(f"lost events            {len(lost_events):3d}   (goal 0)  of {len(sent_payments)} payments sent "
              "during the campaign")
        print(f"lost notices           {len(missing):3d}   (goal 0)  of {expected_mails} suspension/reactivation "
              f"e-mails owed  {missing or ''}")
        waiting = Counter(d["queue"] + ": " + d["reason"][:70] for d in letters if d["status"] == "waiting")
        print(f"dead letters waiting   {sum(waiting.values()):3d}            {dict(waiting) or ''}")
        print("\ntrue state vs expected (sandbox):")
        print(f"  {'customer':<38} {'group':<10} {'plan: true / expected':<26} licence   audited changes")
        mismatches = 0
        for cid in groups:
            plan, lic = plans[cid]
            ok = truth[plan] == expected_plan(cid) and truth[lic] == "active"
            mismatches += not ok
            changes = sum(len(e["evidence"]["changed"]) for e in final["audits"][cid])
            print(f"  {cid:<38} {groups[cid]:<10} {truth[plan]:>9} / {expected_plan(cid):<14} {truth[lic]:<9} "
                  f"{changes:>3}  {'ok' if ok else 'MISMATCH'}")
        print(f"customers whose true state differs from the expected one: {mismatches} (goal 0); logs in {work}")
    finally:
        runner.stop()
        mailbox.stop()
        sandbox.stop()
        azurite.stop()


class _Empty:
    seen_event_ids: frozenset[str] = frozenset()


def ctx_history(api: httpx.Client, cid: str) -> list[dict[str, Any]]:
    r = api.get(f"/customers/{cid}/status")
    return r.json()["history"] if r.status_code == 200 else []  # type: ignore[no-any-return]


def lost_notices(state: dict[str, Any], mailbox: Mailbox, groups: dict[str, str],
                 emails: dict[str, str]) -> tuple[list[str], int]:
    """(customers owed a suspension/reactivation e-mail they did not get, e-mails owed)."""
    mails = mailbox.messages()
    missing, owed = [], 0
    for cid in groups:
        audits = state["audits"][cid]
        to_customer = [str(m["Subject"]).lower() for m in mails if emails[cid] in str(m["To"])]
        reactivated = any(e["action"] == "reactivate" for e in audits)
        for action, word in (("suspend", "suspended"), ("reactivate", "reactivat")):
            # a suspension lifted at once because the customer paid meanwhile is told by the reactivation e-mail
            # (the worker sends "suspended" only if the suspension still stands after re-evaluating)
            if any(e["action"] == action for e in audits) and not (action == "suspend" and reactivated):
                owed += 1
                if not any(word in s for s in to_customer):
                    missing.append(f"{cid[:8]}:{action}")
    return missing, owed


if __name__ == "__main__":
    main()
