"""The collections and misuse stories of ``make demo``, and the sample data ``make run`` seeds.

Everything goes through the app's real entry points (HTTP API, queues, timers' HTTP twins) against the
sandbox and the SMTP mailbox. Nothing is staged by hand: the 7-day notice period passes on the local stack's
clock (``POST /api/clock {"advance": "8d"}``, the same time machine as ``cspguard clock advance 8d``), which
moves the app, the runner and the sandbox together. Every date here is the clock's, so the stories also
work on a ``make run`` stack whose clock was moved.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from devtools.polling import wait_until as _wait_until
from devtools.sandbox.inspect import add_customer, entitlement_status, subscription_status
from shared.clock import FileClock

if TYPE_CHECKING:
    from collections.abc import Callable

    from devtools.demo import Demo
    from devtools.stack import Stack

wait_until = partial(_wait_until, timeout=45.0)  # scans and sweeps take longer on a loaded machine
DEMO_POLICY = "config/samples/collections-policy.demo.yaml"
ACTOR = {"x-actor": "demo-operator@partner.example"}


class StoryFailed(RuntimeError):
    """A story step did not see what it expected."""


def clock_now(stack: Stack) -> datetime:
    """The stack's time (its time machine file; real time until someone moves it)."""
    return FileClock(stack.clock_file).now()


def _event(stack: Stack, kind: str, customer_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"{kind}-{uuid.uuid4().hex[:12]}", "customer_id": customer_id,
            "occurred_at": clock_now(stack).isoformat(), **fields}


def _post_events(stack: Stack, events: list[dict[str, Any]]) -> None:
    with stack.http() as api:
        r = api.post("/api/payment-events", json=events)
        if r.status_code != 202:
            raise StoryFailed(f"POST /api/payment-events -> {r.status_code}: {r.text}")


def _invoice(stack: Stack, cid: str, number: str, amount: str, due_in_days: int) -> dict[str, Any]:
    today = clock_now(stack).date()
    return _event(stack, "invoice.issued", cid, invoice_id=number, amount=amount, currency="CNY",
                  issue_date=(today + timedelta(days=due_in_days - 30)).isoformat(),
                  due_date=(today + timedelta(days=due_in_days)).isoformat())


def seed_portfolio(stack: Stack) -> dict[str, Any]:
    """Payment history for every sandbox customer (current invoices, most paid) plus four customers whose
    stories the demo tells: one overdue, one with a reminder due, one exempt, one disputing."""
    with stack.sandbox_admin() as admin:
        listing = admin.get("/_sandbox/state").json()["customers"]
    events: list[dict[str, Any]] = []
    for i, c in enumerate(listing):
        cid = c["id"]
        events.append(_event(stack, "customer.updated", cid, name=c["companyName"], language="zh-CN" if i % 2 else "en",
                             contact_email=f"ap{i}@customer{i}.example"))
        inv = _invoice(stack, cid, f"INV-{i:04d}", f"{1000 + 37 * i}.00", due_in_days=20 - i % 15)
        events.append(inv)
        if i % 3:
            events.append(_event(stack, "payment.received", cid, payment_id=f"PAY-{i:04d}", amount=inv["amount"],
                                 currency="CNY", received_at=clock_now(stack).isoformat(),
                                 invoice_id=inv["invoice_id"]))
    cast: dict[str, Any] = {}
    for role, name, email, due_in in (("overdue", "Overdue Trading Co", "finance@overdue.example", -32),
                                      ("reminder", "Early Reminder Ltd", "ap@reminder.example", 3),
                                      ("exempt", "Strategic Exempt Group", "ap@exempt.example", -32),
                                      ("disputed", "Disputing Design Studio", "ap@disputing.example", -32)):
        created = add_customer(stack, name, [{"kind": "azure_plan", "friendly_name": "Azure plan",
                                               "entitlements": ["active", "active"]},
                                              {"kind": "license", "friendly_name": "Microsoft 365 E3"}])
        cid = created["id"]
        plan = next(s["id"] for s in created["subscriptions"] if s["offerId"].startswith("DZH318Z0BPS6"))
        licence = next(s["id"] for s in created["subscriptions"] if s["id"] != plan)
        cast[role] = {"id": cid, "name": name, "email": email, "plan": plan, "licence": licence,
                      "invoice": f"INV-{role.upper()}"}
        events.append(_event(stack, "customer.updated", cid, name=name, contact_email=email, language="en"))
        events.append(_invoice(stack, cid, cast[role]["invoice"], "8000.00", due_in_days=due_in))
    _post_events(stack, events)
    with stack.http() as api:
        wait_until(lambda: all(api.get(f"/api/customers/{c['id']}/status").status_code == 200 for c in cast.values()),
              "the sample ledgers")
    return cast


def _mail(stack: Stack, address: str, words: str) -> list[Any]:
    return [m for m in stack.mailbox.messages() if address in str(m["To"]) and words in str(m["Subject"]).lower()]


# ---------------------------------------------------------------------------------------------- collections


def step_collections_seed(demo: Demo) -> str:
    cast = seed_portfolio(demo.stack)
    demo.notes["cast"] = cast
    exempt, disputed = cast["exempt"], cast["disputed"]
    with demo.stack.http() as api:
        r = api.post(f"/api/customers/{exempt['id']}/overrides/exemption", headers=ACTOR,
                     json={"reason": "strategic account, CFO approval", "approver": "cfo@partner.example",
                           "expires_on": (clock_now(demo.stack).date() + timedelta(days=30)).isoformat()})
        if r.status_code != 201:
            raise StoryFailed(f"setting the exemption gave {r.status_code}: {r.text}")
        r = api.post(f"/api/customers/{disputed['id']}/disputes", headers=ACTOR,
                     json={"invoice_id": disputed["invoice"], "reason": "meter billed twice"})
        if r.status_code != 202:
            raise StoryFailed(f"recording the dispute gave {r.status_code}: {r.text}")
        wait_until(lambda: any(i["disputed"] != "0" and i["disputed"] != "0.00" for i in
                          api.get(f"/api/customers/{disputed['id']}/status").json()["invoices"]),
              "the dispute to reach the ledger")
    return (f"payment events for every sandbox customer posted to /api/payment-events; "
            f"{cast['overdue']['name']} is 32 days overdue on CNY 8,000.00, {cast['reminder']['name']} "
            f"is due in 3 days, {exempt['name']} is overdue but exempt (CFO, 30 days), {disputed['name']} disputes "
            "its invoice")


def step_notices(demo: Demo) -> str:
    cast, stack = demo.notes["cast"], demo.stack
    reminder = wait_until(lambda: _mail(stack, cast["reminder"]["email"], "reminder"), "the payment reminder e-mail")
    final = wait_until(lambda: _mail(stack, cast["overdue"]["email"], "final notice"), "the final notice e-mail")
    body = final[0].get_body(("plain",)).get_content()
    if "Azure plan" not in body or "8,000.00" not in body:
        raise StoryFailed("the final notice does not name the amount and the subscription it will suspend")
    return (f"mailbox: '{reminder[0]['Subject']}' to {cast['reminder']['email']}; '{final[0]['Subject']}' to "
            f"{cast['overdue']['email']} (names CNY 8,000.00 and the Azure plan; the licence is not affected)")


def step_preview_blocked(demo: Demo) -> str:
    cast = demo.notes["cast"]
    with demo.stack.http() as api:
        rows = {r["customer_id"]: r for r in api.get("/api/collections/preview").json()["items"]}
    overdue, exempt = rows.get(cast["overdue"]["id"]), rows.get(cast["exempt"]["id"])
    if not overdue or "notice_too_recent" not in overdue["blocked_by"]:
        raise StoryFailed(f"preview of the overdue customer: {overdue}")
    if not exempt or "exempt" not in exempt["blocked_by"]:
        raise StoryFailed(f"preview of the exempt customer: {exempt}")
    if cast["disputed"]["id"] in rows:
        raise StoryFailed(f"the disputed customer has a stage: {rows[cast['disputed']['id']]}")
    return (f"GET /api/collections/preview: {cast['overdue']['name']} at stage {overdue['stage']} blocked by "
            f"{overdue['blocked_by']} (the final notice went out today; 7 days' notice needed); "
            f"exempt customer blocked by {exempt['blocked_by']}; disputed customer has no stage")


def step_notice_period_passes(demo: Demo) -> str:
    """Eight days pass on the stack's clock (app, runner and sandbox together); the billing system's daily
    export keeps arriving, so the payment feed is fresh when the sweep runs."""
    stack = demo.stack
    with stack.http() as api:
        r = api.post("/api/clock", json={"advance": "8d"})
        if r.status_code != 200:
            raise StoryFailed(f"POST /api/clock gave {r.status_code}: {r.text}")
        moved = r.json()
    feed = demo.notes["cast"]["reminder"]
    _post_events(stack, [_event(stack, "customer.updated", feed["id"], name="Early Reminder Ltd",
                                contact_email=feed["email"], language="en")])
    with stack.http() as api:
        wait_until(lambda: not [p for p in api.get("/api/health").json()["problems"] if "payment feed" in p],
                   "the daily export to refresh the payment feed")
    return (f"POST /api/clock {{\"advance\": \"8d\"}} -> the stack's clock reads {moved['now_beijing']} Beijing "
            f"({moved['offset']} ahead of real time); the billing system's daily export arrived, /api/health no "
            "longer warns about the payment feed; nothing staged by hand")


def _sweep(demo: Demo) -> dict[str, Any]:
    with demo.stack.http() as api:
        run = api.post("/api/collections/sweep").json()
        return wait_until(lambda: (lambda r: r if r["status"] != "running" else None)(  # type: ignore[no-any-return]
            api.get(f"/api/collections/runs/{run['run_id']}").json()), "the sweep")


def step_sweep_suspends(demo: Demo) -> str:
    cast, stack = demo.notes["cast"], demo.stack
    run = _sweep(demo)
    o = cast["overdue"]
    guard = "blast-radius limits passed"
    if run["status"] == "halted":  # a small portfolio: one suspension is more than the allowed share
        with stack.http() as api:
            r = api.post("/api/approvals/decide", headers=ACTOR,
                         json={"key": f"run:{run['run_id']}", "decision": "approve", "note": "reviewed the list"})
            if r.status_code != 200:
                raise StoryFailed(f"approving the halted run gave {r.status_code}: {r.text}")
        guard = f"run HALTED by the blast-radius guard ({run['detail']}); an operator approved it"
    elif run["status"] != "completed":
        raise StoryFailed(f"the sweep ended {run['status']}: {run['detail']}")
    wait_until(lambda: subscription_status(stack, o["id"])[o["plan"]] == "suspended", "the Azure plan to be suspended")
    statuses = subscription_status(stack, o["id"])
    if set(entitlement_status(stack, o["id"]).values()) != {"disabled"}:
        raise StoryFailed("the Azure subscriptions under the suspended plan are not all disabled")
    if statuses[o["licence"]] != "active":
        raise StoryFailed("the licence subscription (outside the stage's scope) was touched")
    for other in ("exempt", "disputed"):
        if set(subscription_status(stack, cast[other]["id"]).values()) != {"active"}:
            raise StoryFailed(f"the {other} customer was suspended")
    mail = wait_until(lambda: _mail(stack, o["email"], "suspended"), "the suspension e-mail")
    return (f"POST /api/collections/sweep -> run {run['run_id']}: {run['customers']} customers, "
            f"{run['customers_to_suspend']} to suspend ({guard}); sandbox: both Azure subscriptions disabled, "
            f"then the Azure plan suspended, licence active; exempt and disputed customers untouched; "
            f"mailbox: '{mail[0]['Subject']}'")


def step_payment_reactivates(demo: Demo) -> str:
    cast, stack = demo.notes["cast"], demo.stack
    o = cast["overdue"]
    started = time.monotonic()
    _post_events(stack, [_event(stack, "payment.received", o["id"], payment_id="BANK-0042", amount="8000.00",
                                currency="CNY", received_at=clock_now(stack).isoformat())])
    wait_until(lambda: subscription_status(stack, o["id"])[o["plan"]] == "active"
               and set(entitlement_status(stack, o["id"]).values()) == {"active"}, "the reactivation")
    seconds = time.monotonic() - started
    wait_until(lambda: _mail(stack, o["email"], "reactivat"), "the reactivation e-mail")
    with stack.http() as api:
        history = api.get(f"/api/customers/{o['id']}/status").json()["history"]
    trail = ", ".join(f"{e['action']}:{e['outcome']}" for e in reversed(history[:6]))
    return (f"payment.received CNY 8,000.00 -> Azure plan, then its Azure subscriptions active again "
            f"{seconds:.1f}s later; reactivation "
            f"e-mail sent; audit trail: {trail}")


# ---------------------------------------------------------------------------------------------- misuse


def step_gpu_spike(demo: Demo) -> str:
    stack = demo.stack
    created = add_customer(stack, "Night Shift Compute Ltd",
                            [{"kind": "azure_plan", "friendly_name": "Azure plan", "daily_usage_units": 1.0,
                              "entitlements": ["active", "active"]},
                             {"kind": "license", "friendly_name": "Office 365 E3"}])
    cid, plan = created["id"], created["subscriptions"][0]["id"]
    running, other = list(entitlement_status(stack, cid))
    day = (clock_now(stack).date() - timedelta(days=1)).isoformat()
    with stack.sandbox_admin() as admin:
        admin.post("/_sandbox/usage", json=[{
            "customerId": cid, "subscriptionId": plan, "entitlementId": running, "usageDate": f"{day}T00:00:00Z",
            "meterCategory": "Virtual Machines", "meterSubCategory": "NCads A100 v4 Series GPU",
            "meterName": "NC24ads A100 v4", "meterId": "gpu-a100", "resourceLocation": "ChinaNorth3",
            "quantity": 100, "unitPrice": 30.0}]).raise_for_status()
    demo.notes["gpu"] = {"id": cid, "plan": plan, "running": running, "other": other}
    with stack.http() as api:
        run_id = api.post("/api/fraud/scan").json()["run_id"]
        run = wait_until(lambda: (lambda r: r if r["status"] in ("completed", "failed") else None)(
            api.get(f"/api/fraud/scans/{run_id}").json()), "the usage scan")
        case = wait_until(lambda: (lambda r: r.json() if r.status_code == 200 else None)(
            api.get(f"/api/fraud/cases/{cid}")), "the fraud case")
    hits = ", ".join(h["rule_id"] for h in case["case"]["hits"])
    return (f"usage: 100 h of A100 GPU (CNY 3,000) yesterday in one Azure subscription of an Azure plan that ran "
            f"one small VM; "
            f"POST /api/fraud/scan read {run.get('lines')} line items -> case opened for Night Shift Compute Ltd, "
            f"rules hit: {hits}")


def step_contain(demo: Demo) -> str:
    stack, g = demo.stack, demo.notes["gpu"]
    with stack.http() as api:
        case = api.get(f"/api/fraud/cases/{g['id']}").json()
        if entitlement_status(stack, g["id"])[g["running"]] != "disabled":
            r = api.post(f"/api/fraud/cases/{g['id']}/contain", headers=ACTOR, json={"note": "approve containment"})
            if r.status_code not in (200, 202):
                raise StoryFailed(f"approving containment gave {r.status_code}: {r.text}")
            how = "the rules asked for review: an operator contained it (POST /api/fraud/cases/{id}/contain)"
        else:
            how = "contained automatically"
    wait_until(lambda: entitlement_status(stack, g["id"])[g["running"]] == "disabled", "the containment")
    if entitlement_status(stack, g["id"])[g["other"]] != "active" or set(
            subscription_status(stack, g["id"]).values()) != {"active"}:
        raise StoryFailed("containment touched more than the Azure subscription that ran the GPUs")
    # 21Vianet takes the report only in the Partner Center portal: the pack is prepared, a person files it
    with stack.http() as api:
        wait_until(lambda: (api.get(f"/api/fraud/cases/{g['id']}").json().get("service_request") or {}).get(
            "status") == "ready", "the evidence pack")  # raised once Partner Center confirmed the containment
        pack = api.get(f"/api/fraud/cases/{g['id']}/evidence")
        if pack.status_code != 200 or "世纪互联" not in pack.text:
            raise StoryFailed(f"the evidence pack gave {pack.status_code}")
        ticket = api.post(f"/api/fraud/cases/{g['id']}/service-request/ticket", headers=ACTOR,
                          json={"number": "DEMO-20261201-001", "note": "filed in the Partner Center portal"})
        if ticket.status_code != 200:
            raise StoryFailed(f"recording the ticket gave {ticket.status_code}: {ticket.text}")
    with stack.http() as api:
        _post_events(stack, [_event(stack, "customer.updated", g["id"], name="Night Shift Compute Ltd",
                                    contact_email="it@nightshift.example"),
                             _event(stack, "payment.received", g["id"], payment_id="NS-1", amount="3000.00",
                                    currency="CNY", received_at=clock_now(stack).isoformat())])
        time.sleep(2.5)
        case = api.get(f"/api/fraud/cases/{g['id']}").json()
    if entitlement_status(stack, g["id"])[g["running"]] != "disabled":
        raise StoryFailed("a payment lifted a fraud containment")
    return (f"{how}; sandbox: exactly that Azure subscription disabled while investigating (plan, other Azure "
            f"subscription and Office licence active), containment {case['case']['containment']['status']}; "
            f"evidence pack for the 21Vianet portal "
            f"({pack.headers.get('content-disposition', '').split('filename=')[-1]}, containment "
            f"{pack.headers.get('x-cspguard-containment')}), ticket {ticket.json()['ticket_number']} recorded on the "
            f"case; a payment arrived and did NOT lift it; case status {case['case']['status']}")


def step_resolve_legitimate(demo: Demo) -> str:
    stack, g = demo.stack, demo.notes["gpu"]
    with stack.http() as api:
        r = api.post(f"/api/fraud/cases/{g['id']}/resolve", headers=ACTOR,
                     json={"label": "legitimate", "note": "customer confirmed a planned model training run"})
        if r.status_code != 200:
            raise StoryFailed(f"resolving gave {r.status_code}: {r.text}")
    wait_until(lambda: entitlement_status(stack, g["id"])[g["running"]] == "active",
               "the reactivation after resolution")
    return ("POST /api/fraud/cases/{id}/resolve label=legitimate -> the Azure subscription the case disabled is "
            "active again")


COLLECTIONS_STEPS: list[tuple[str, Callable[[Demo], str]]] = [
    ("collections: sample portfolio, an exemption and a dispute", step_collections_seed),
    ("collections: reminder and final notice e-mailed", step_notices),
    ("collections: preview explains why nothing is suspended yet", step_preview_blocked),
    ("collections: 8 days pass on the stack's clock (nothing staged by hand)", step_notice_period_passes),
    ("collections: the sweep suspends after the notice period", step_sweep_suspends),
    ("collections: the customer pays and is reactivated", step_payment_reactivates),
]
MISUSE_STEPS: list[tuple[str, Callable[[Demo], str]]] = [
    ("misuse: a GPU spike is detected from usage", step_gpu_spike),
    ("misuse: containment while investigating, evidence pack and ticket for 21Vianet", step_contain),
    ("misuse: resolved as legitimate, reactivated", step_resolve_legitimate),
]
