"""``make demo``: one scripted pass through a throwaway local stack, printing what happened step by step.

The story is a list of small step functions (``STEPS``); each takes the ``Demo`` (stack + notes shared
between steps), does one thing through the app's real entry points, and returns a one-line outcome or
raises ``DemoFailed``. Later stories (collections, fraud) add their steps to the list.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from devtools.demo_stories import COLLECTIONS_STEPS, DEMO_POLICY, MISUSE_STEPS, clock_now
from devtools.polling import wait_until
from devtools.stack import Stack, StackConfig

T = TypeVar("T")
DEMO_QUEUE = "payment-events"


class DemoFailed(RuntimeError):
    """A step did not see what it expected; the message says what it saw instead."""


@dataclass
class Demo:
    stack: Stack
    notes: dict[str, Any] = field(default_factory=dict)  # what one step leaves for the next
    say: Callable[[str], None] = print


Step = Callable[[Demo], str]


# ---------------------------------------------------------------------------------------------- sample data

def seed_sample_data(stack: Stack, *, payments: bool = True) -> str:
    """Sample data for a fresh stack: the sandbox's generated portfolio (customers, subscriptions, usage) and,
    with ``payments``, payment history for every customer plus the four customers of the collections story
    (devtools/demo_stories.py). Returns a one-line summary."""
    with stack.sandbox_admin() as admin:
        r = admin.get("/_sandbox/state", params={"limit": 0})
        r.raise_for_status()
        counts = r.json()["counts"]
    if counts["customers"] != stack.config.customers:
        raise DemoFailed(f"sandbox has {counts['customers']} customers, expected {stack.config.customers}")
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(counts["byStatus"].items()))
    summary = (f"sandbox portfolio (seed {stack.config.seed}): {counts['customers']} customers, "
               f"{counts['subscriptions']} subscriptions ({statuses})")
    if payments:
        from devtools.demo_stories import seed_portfolio

        cast = seed_portfolio(stack)
        summary += "; payment history posted for every customer, plus " + ", ".join(
            f"{c['name']} ({role})" for role, c in cast.items())
    return summary


# ---------------------------------------------------------------------------------------------- steps

def step_seed(demo: Demo) -> str:
    return seed_sample_data(demo.stack, payments=False)  # the collections story seeds its own


def step_health(demo: Demo) -> str:
    """GET /api/health is anonymous (probes have no key); storage must be reachable."""
    with demo.stack.http() as api:
        r = api.get("/api/health", headers={"x-functions-key": ""})
    report = r.json()
    if report.get("checks", {}).get("storage") != "ok" or report.get("status") not in ("ok", "degraded"):
        raise DemoFailed(f"health is {r.status_code} {report}")
    problems = "; ".join(report.get("problems", [])) or "none"
    return f"GET /api/health -> {r.status_code} status={report['status']} checks={report['checks']} " \
           f"problems: {problems}"


def step_function_key(demo: Demo) -> str:
    """Person-facing routes need a signed-in person (locally X-Actor or the development sign-in), system
    ingress needs the function key: without them 401."""
    with demo.stack.http() as api:
        anonymous = api.get("/api/dead-letters", headers={"x-actor": ""}).status_code
        signed_in = api.get("/api/dead-letters").status_code
        keyless = api.post("/api/payment-events", json=[], headers={"x-functions-key": ""}).status_code
    if (anonymous, signed_in, keyless) != (401, 200, 401):
        raise DemoFailed(f"GET /api/dead-letters gave {anonymous} signed out and {signed_in} signed in; "
                         f"POST /api/payment-events without the key {keyless}")
    return (f"GET /api/dead-letters signed out -> {anonymous}, signed in -> {signed_in}; "
            f"POST /api/payment-events without x-functions-key -> {keyless}")


def step_customers(demo: Demo) -> str:
    """The `cspguard pc customers` command (the app's Partner Center client) against the sandbox."""
    from typer.testing import CliRunner

    from cli.main import app

    result = CliRunner().invoke(app, ["pc", "customers", "--json"], env=demo.stack.settings)
    if result.exit_code != 0:
        raise DemoFailed(f"cspguard pc customers exited {result.exit_code}: {result.output.strip()}")
    customers = json.loads(result.stdout)
    expected = demo.stack.config.customers
    if len(customers) != expected:
        raise DemoFailed(f"cspguard pc customers listed {len(customers)} customers, the sandbox has {expected}")
    demo.notes["customer_id"] = customers[0]["id"]
    sample = ", ".join(c["companyProfile"]["companyName"] for c in customers[:3])
    return f"cspguard pc customers --json -> {len(customers)} customers (first: {sample}, ...)"


def invoice_envelope(customer_id: str, event_id: str, amount: str, now: datetime) -> str:
    """An invoice.issued envelope as a billing system would send it (due in 30 days: nothing to enforce)."""
    today = now.date()
    payload = {"type": "invoice.issued", "event_id": event_id, "customer_id": customer_id,
               "occurred_at": now.isoformat(), "invoice_id": f"INV-{event_id[-8:]}",
               "amount": amount, "currency": "CNY", "issue_date": today.isoformat(),
               "due_date": (today + timedelta(days=30)).isoformat()}
    return json.dumps({"schema_version": 1, "kind": "invoice.issued", "idempotency_key": event_id,
                       "source": "demo", "payload": payload})


def step_invalid_message(demo: Demo) -> str:
    """A malformed invoice (negative amount) sent straight to the queue is parked, not retried or lost."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.queue import QueueClient

    event_id = f"demo-{uuid.uuid4().hex[:12]}"
    demo.notes["event_id"] = event_id
    body = invoice_envelope(demo.notes["customer_id"], event_id, "-120.00", clock_now(demo.stack))
    with QueueClient.from_connection_string(demo.stack.connection_string, DEMO_QUEUE) as queue:
        with contextlib.suppress(ResourceExistsError):
            queue.create_queue()
        queue.send_message(base64.b64encode(body.encode()).decode("ascii"))  # host.json: base64 encoding
    letter = wait_until(lambda: dead_letter_for(demo, event_id), "the message in GET /api/dead-letters")
    demo.notes["letter"] = letter
    return f"sent invoice.issued with amount -120.00 to {DEMO_QUEUE}; GET /api/dead-letters shows " \
           f"{letter['id']}: {letter['reason']}"


def step_replay(demo: Demo) -> str:
    """The operator corrects the body and replays it; the app now applies the invoice to the ledger."""
    letter, customer = demo.notes["letter"], demo.notes["customer_id"]
    fixed = invoice_envelope(customer, demo.notes["event_id"], "120.00", clock_now(demo.stack))
    with demo.stack.http() as api:
        r = api.post(f"/api/dead-letters/{DEMO_QUEUE}/{letter['id']}/replay", json={"body": fixed},
                     headers={"x-actor": "demo-operator"})  # a replay names who did it (audited)
        if r.status_code != 200 or not r.json().get("replayed_at"):
            raise DemoFailed(f"replay gave {r.status_code}: {r.text}")

        def invoices() -> list[dict[str, Any]] | None:
            status = api.get(f"/api/customers/{customer}/status")
            return (status.json()["invoices"] or None) if status.status_code == 200 else None

        found = wait_until(invoices, f"the invoice in GET /api/customers/{customer}/status")
    again = dead_letter_for(demo, demo.notes["event_id"])
    if again is not None:
        raise DemoFailed(f"the corrected message was parked again: {again['reason']}")
    inv = found[0]
    return f"replayed {letter['id']} with amount 120.00 -> ledger of {customer} now has invoice " \
           f"{inv.get('invoice_id')} ({inv.get('amount', '')} {inv.get('currency', '')}); no new dead letter"


STEPS: list[tuple[str, Step]] = [
    ("sample data", step_seed),
    ("health", step_health),
    ("function key", step_function_key),
    ("Partner Center customers via the CLI", step_customers),
    ("invalid message -> dead letter", step_invalid_message),
    ("replay the dead letter", step_replay),
    *COLLECTIONS_STEPS,
    *MISUSE_STEPS,
]


# ---------------------------------------------------------------------------------------------- helpers

def dead_letter_for(demo: Demo, event_id: str) -> dict[str, Any] | None:
    """The unreplayed dead letter on the demo queue whose body carries ``event_id``."""
    with demo.stack.http() as api:
        r = api.get("/api/dead-letters", params={"queue": DEMO_QUEUE})
    r.raise_for_status()
    return next((d for d in r.json()["items"] if event_id in d["body"]), None)


def run_demo(stack: Stack, steps: list[tuple[str, Step]] | None = None, say: Callable[[str], None] = print) -> bool:
    """Run the steps in order, printing each outcome; stop at the first failure. True if all passed."""
    steps = STEPS if steps is None else steps
    demo = Demo(stack, say=say)
    for n, (title, step) in enumerate(steps, 1):
        say(f"[{n}/{len(steps)}] {title}")
        try:
            say(f"      {step(demo)}")
        except Exception as exc:  # a demo reports, it does not trace back
            say(f"      FAILED: {exc if isinstance(exc, DemoFailed) else repr(exc)}")
            return False
    return True


def quiet_logs() -> None:
    """The demo's output is its steps: app logs go to stderr at WARNING (the app keeps an existing handler)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # uvicorn reports a keep-alive connection it closed at shutdown as an ERROR; it is not one here
    logging.getLogger("uvicorn.error").addFilter(lambda r: "graceful shutdown exceeded" not in r.getMessage())


def main(customers: int = 25) -> int:
    quiet_logs()
    print(f"starting a throwaway stack (free ports, in-memory storage, {customers} sandbox customers)...",
          flush=True)
    print("nothing is staged by hand: every step uses the app's own entry points, and time passes on the "
          "stack's clock (POST /api/clock), which moves the app, the runner and the sandbox together", flush=True)
    # the demo policy is the shipped one with the calendar gates opened, so a suspension can be shown at any hour
    # and the service request looks for the containment outcome every few seconds instead of minutes
    extra = {"CSPGUARD_POLICY_FILE": DEMO_POLICY, "CSPGUARD_SERVICE_REQUEST_RETRY_SECONDS": "3"}
    with Stack(StackConfig(free_ports=True, customers=customers, extra_settings=extra)) as stack:
        print(f"app at {stack.app_url}", flush=True)
        ok = run_demo(stack, say=lambda line: print(line, flush=True))
    print("demo complete: every step passed" if ok else "demo FAILED (see the step above)", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
