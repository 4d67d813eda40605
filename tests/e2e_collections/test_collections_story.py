"""The collections story end to end, through the runner's HTTP API and queues, the sandbox and SMTP:
invoice overdue -> final notice e-mailed -> (the notice period passes on the stack's clock, POST /api/clock)
-> the "suspend usage" stage disables the Azure subscriptions under the customer's Azure plan, then suspends the
plan (its Office licence stays active) -> the customer pays -> plan, then exactly those Azure subscriptions
reactivated within seconds; plus the guards. No stored state is edited: time moves, and events arrive through the
API."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.services.state import Stores
from shared.storage.azure import AzureTables
from tests.e2e_collections.conftest import (
    CollectionsStack,
    add_customer,
    entitlement_status,
    subscription_status,
    wait_until,
)

pytestmark = pytest.mark.e2e


def _event(kind: str, customer_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"{kind}-{uuid.uuid4().hex[:10]}", "customer_id": customer_id,
            "occurred_at": datetime.now(UTC).isoformat(), **fields}  # when the producer saw it (informative)


def _stores(stack: CollectionsStack) -> Stores:
    return Stores(AzureTables.from_connection_string(stack.azurite.connection_string))


def _overdue_customer(stack: CollectionsStack, name: str, email: str,
                      amount: str = "5000.00") -> tuple[str, dict[str, str]]:
    """A customer with an Azure plan carrying two active Azure subscriptions and a disabled one (in the suspension
    scope) and a licence subscription (not in scope), 32 days past due on one invoice (40 once the 8 days of
    ``_pass_days`` have passed)."""
    created = add_customer(stack, name, [{"kind": "azure_plan", "friendly_name": "Azure plan",
                                          "entitlements": ["active", "active", "disabled"]},
                                         {"kind": "license", "friendly_name": "Office 365 E3"}])
    cid = created["id"]
    kinds = {s["id"]: s["offerId"] for s in created["subscriptions"]}
    today = stack.now().date()
    events = [
        _event("customer.updated", cid, name=name, contact_email=email, language="en"),
        _event("invoice.issued", cid, invoice_id=f"INV-{cid[:6]}", amount=amount, currency="CNY",
               issue_date=(today - timedelta(days=62)).isoformat(), due_date=(today - timedelta(days=32)).isoformat()),
    ]
    with stack.api() as api:
        r = api.post("/payment-events", json=events)
        assert r.status_code == 202, r.text
    return cid, kinds


def _pass_days(stack: CollectionsStack, days: int, *, feed: bool = True) -> None:
    """Time passes on the stack's clock; with ``feed`` the billing system's export arrives afterwards (an
    unchanged profile event), so the payment feed is fresh again."""
    stack.advance(f"{days}d")
    if not feed:
        return
    cid = "00000000-0000-4000-8000-00000000feed"  # a tenant id of its own: ids are GUIDs at the ingress
    with stack.api() as api:
        r = api.post("/payment-events", json=_event("customer.updated", cid, name="Daily export marker"))
        assert r.status_code == 202, r.text
        wait_until(lambda: not _feed_silent(stack), what="the payment feed to be fresh")


def _feed_silent(stack: CollectionsStack) -> bool:
    report = httpx.get(f"{stack.runner.base_url}/api/health", timeout=30).json()
    return any("payment feed silent" in p for p in report["warnings"])  # a warning: not a 503


def _mail_to(stack: CollectionsStack, address: str) -> list[Any]:
    return [m for m in stack.mailbox.messages() if address in str(m["To"])]


def _run_sweep(stack: CollectionsStack) -> dict[str, Any]:
    with stack.api() as api:
        run = api.post("/collections/sweep").json()
        return wait_until(lambda: (lambda r: r if r["status"] != "running" else None)(
            api.get(f"/collections/runs/{run['run_id']}").json()), what="sweep to finish")


def test_overdue_customer_is_noticed_suspended_after_notice_period_and_reactivated_on_payment(
        collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    email = "finance@overdue-one.example"
    cid, subs = _overdue_customer(stack, "Overdue One Ltd", email)
    plan = next(s for s, offer in subs.items() if offer.startswith("DZH318Z0BPS6"))
    licence = next(s for s in subs if s != plan)

    # the event path opens a case and sends the final notice (required before any suspension)
    final = wait_until(lambda: [m for m in _mail_to(stack, email) if "Final notice" in str(m["Subject"])],
                       what="final notice e-mail")
    body = final[0].get_body(("plain",)).get_content()
    assert "5,000.00" in body and "Azure plan" in body and "Office 365" not in body
    # the team hears that the stage was entered (not a "suspension FAILED" message chosen by accident)
    team = wait_until(lambda: [m for m in _mail_to(stack, "collections@partner.example")
                               if "Overdue One Ltd" in str(m["Subject"])], what="team stage e-mail")
    assert 'entered collections stage "Final notice before suspension"' in str(team[0]["Subject"])
    assert "FAILED" not in str(team[0]["Subject"]) and "5,000.00" in team[0].get_body(("plain",)).get_content()
    # it says what suspension does for that subscription type (policy-e2e.yaml keeps the default periods)
    assert "the Azure subscriptions under this Azure plan are cancelled (disabled)" in body
    assert "if a suspended subscription is not reactivated within 60 days" in body

    # immediately, a sweep must not suspend: the notice is younger than the policy's 7 days
    run = _run_sweep(stack)
    assert run["planned_suspensions"] == 0
    with stack.api() as api:
        status = api.get(f"/customers/{cid}/status").json()
    assert "notice_too_recent" in [r["code"] for r in status["decision"]["blocked_by"]]
    assert subscription_status(stack, cid)[plan] == "active"

    azure = entitlement_status(stack, cid)
    first, second, idle = list(azure)
    assert [azure[e] for e in (first, second, idle)] == ["active", "active", "disabled"]

    _pass_days(stack, 8)
    run = _run_sweep(stack)
    assert run["status"] == "completed" and run["customers_to_suspend"] == 1
    wait_until(lambda: subscription_status(stack, cid)[plan] == "suspended", what="plan suspended")
    assert entitlement_status(stack, cid) == {first: "disabled", second: "disabled", idle: "disabled"}
    assert subscription_status(stack, cid)[licence] == "active"  # out of the stage's scope
    suspended_mail = wait_until(lambda: [m for m in _mail_to(stack, email)
                                         if "suspended" in str(m["Subject"]).lower()], what="suspension e-mail")
    done = suspended_mail[0].get_body(("plain",)).get_content()
    assert "a cancelled Azure subscription can be reactivated only within 30 days" in done
    assert "its data may be deleted" in done
    with stack.api() as api:
        status = api.get(f"/customers/{cid}/status").json()
    held = {(r["subscription_id"], r["entitlement_id"]) for r in status["suspended_by_csp_guard"]}
    assert held == {(plan, None), (plan, first), (plan, second)}  # never the Azure subscription disabled before
    assert {r["reason"] for r in status["suspended_by_csp_guard"]} == {"nonpayment"}
    suspend_audit = next(e for e in status["history"] if e["action"] == "suspend")
    assert suspend_audit["outcome"] == "done" and suspend_audit["actor"] == "csp-guard:sweep"
    assert sorted((t["target"], t["status"], t["verified"]) for t in suspend_audit["evidence"]["targets"]) == sorted(
        [(plan, "suspended", True), (f"{plan}/{first}", "disabled", True), (f"{plan}/{second}", "disabled", True)])

    # the customer pays: reactivation follows the event, not the next sweep
    paid_at = time.monotonic()
    payment = _event("payment.received", cid, payment_id="PAY-1", amount="5000.00", currency="CNY",
                     received_at=datetime.now(UTC).isoformat())
    with stack.api() as api:
        assert api.post("/payment-events", json=payment).status_code == 202
        assert api.post("/payment-events", json=payment).status_code == 202  # a producer's retry
    wait_until(lambda: entitlement_status(stack, cid) == {first: "active", second: "active", idle: "disabled"},
               timeout=30, what="reactivation")
    latency = time.monotonic() - paid_at
    assert subscription_status(stack, cid)[plan] == "active"
    print(f"payment -> reactivated in {latency:.2f}s")
    wait_until(lambda: [m for m in _mail_to(stack, email) if "reactivat" in str(m["Subject"]).lower()],
               what="reactivation e-mail")
    with stack.api() as api:
        status = api.get(f"/customers/{cid}/status").json()
    assert status["suspended_by_csp_guard"] == []
    assert status["case"] is None
    reactivations = [e for e in status["history"] if e["action"] == "reactivate" and e["outcome"] == "done"]
    assert len(reactivations) == 1
    order = [t["target"] for t in reactivations[0]["evidence"]["targets"]]  # the plan before what is under it
    assert order[0] == plan and sorted(order[1:]) == sorted([f"{plan}/{first}", f"{plan}/{second}"])


def test_stale_payment_feed_blocks_suspension(collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    cid, subs = _overdue_customer(stack, "Stale Feed Co", "ap@stale.example")
    wait_until(lambda: _stores(stack).collections_state(cid).notices, what="final notice recorded")
    _pass_days(stack, 8, feed=False)  # the billing system has been silent for 8 days
    assert _feed_silent(stack)
    _run_sweep(stack)
    history = wait_until(lambda: [e for e in stack_history(stack, cid) if e["action"] == "suspend"],
                         what="blocked suspension audited")
    assert history[0]["outcome"] == "blocked" and "stale" in history[0]["evidence"]["detail"]
    assert set(subscription_status(stack, cid).values()) == {"active"}
    # fresh data again: the next sweep suspends
    with stack.api() as api:
        api.post("/payment-events", json=_event("customer.updated", cid, segment="standard"))
    wait_until(lambda: not _feed_silent(stack), what="feed fresh")
    _run_sweep(stack)
    plan = next(s for s, offer in subs.items() if offer.startswith("DZH318Z0BPS6"))
    wait_until(lambda: subscription_status(stack, cid)[plan] == "suspended", what="suspended on fresh data")


def stack_history(stack: CollectionsStack, cid: str) -> list[dict[str, Any]]:
    with stack.api() as api:
        return api.get(f"/customers/{cid}/status").json()["history"]  # type: ignore[no-any-return]


def _noticed(stack: CollectionsStack, name: str) -> tuple[str, str]:
    """An overdue customer whose final notice has been delivered (its 7 days' notice start now)."""
    cid, subs = _overdue_customer(stack, name, f"ap@{uuid.uuid4().hex[:6]}.example")
    wait_until(lambda: _stores(stack).collections_state(cid).notices, what="final notice recorded")
    return cid, next(s for s, offer in subs.items() if offer.startswith("DZH318Z0BPS6"))


def _ready_for_suspension(stack: CollectionsStack, name: str) -> tuple[str, str]:
    found = _noticed(stack, name)
    _pass_days(stack, 8)
    return found


def test_blast_radius_halts_the_run_until_a_person_approves(collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    targets = [_noticed(stack, f"Blast {i} Ltd") for i in range(6)]  # limit is 5 per run
    _pass_days(stack, 8)
    run = _run_sweep(stack)
    assert run["status"] == "halted" and run["customers_to_suspend"] >= 6
    halted = wait_until(lambda: [m for m in _mail_to(stack, "collections@partner.example")
                                 if run["run_id"] in str(m["Subject"])], what="halt alert")
    assert halted and "halted" in str(halted[0]["Subject"]) and "FAILED" not in str(halted[0]["Subject"])
    assert "Blast 0 Ltd" in halted[0].get_body(("plain",)).get_content()  # says what happened, names who
    time.sleep(1.0)
    assert all(subscription_status(stack, cid)[plan] == "active" for cid, plan in targets)
    with stack.api() as api:
        pending = api.get("/approvals").json()["items"]
        key = f"run:{run['run_id']}"
        assert key in [a["key"] for a in pending]
        approve = {"key": key, "decision": "approve", "note": "checked"}
        own = api.post("/approvals/decide", json=approve)  # ops@ started the sweep: four eyes
        assert own.status_code == 403 and "four eyes" in own.json()["error"]
        second = {"x-actor": "approver@partner.example"}
        assert api.post("/approvals/decide", json=approve, headers=second).status_code == 200
        assert api.post("/approvals/decide", json={"key": key, "decision": "approve"},
                        headers=second).status_code == 409
    for cid, plan in targets:
        wait_until(lambda c=cid, p=plan: subscription_status(stack, c)[p] == "suspended", what=f"{cid} suspended")
    suspended = wait_until(lambda: [e for e in stack_history(stack, targets[0][0]) if e["action"] == "suspend"],
                           what="suspension audited")
    assert suspended[0]["actor"] == "operator:approver@partner.example" and suspended[0]["outcome"] == "done"
    # pay everything back so later tests see a calm portfolio
    with stack.api() as api:
        for cid, _ in targets:
            api.post("/payment-events", json=_event("payment.received", cid, payment_id=f"P-{cid[:6]}",
                                                    amount="5000.00", currency="CNY",
                                                    received_at=datetime.now(UTC).isoformat()))
    for cid, plan in targets:
        wait_until(lambda c=cid, p=plan: subscription_status(stack, c)[p] == "active", what=f"{cid} reactivated")


def test_exempt_and_disputed_customers_are_left_alone(collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    exempt, exempt_plan = _noticed(stack, "Exempt Partner Co")
    disputed, disputed_plan = _noticed(stack, "Disputing Co")
    _pass_days(stack, 8)
    with stack.api() as api:
        r = api.post(f"/customers/{exempt}/overrides/exemption",
                     json={"reason": "strategic account", "approver": "cfo@partner.example",
                           "expires_on": (stack.now().date() + timedelta(days=30)).isoformat()})
        assert r.status_code == 201, r.text
        bad = api.post(f"/customers/{exempt}/overrides/exemption", json={"reason": "x"})
        assert bad.status_code == 400 and "approver" in bad.json()["error"]
        r = api.post(f"/customers/{disputed}/disputes",
                     json={"invoice_id": f"INV-{disputed[:6]}", "reason": "wrong meter"})
        assert r.status_code == 202, r.text
    wait_until(lambda: any(i.disputed for i in _stores(stack).ledger(disputed).summary.invoices),  # type: ignore[union-attr]
               what="dispute recorded")
    _run_sweep(stack)
    time.sleep(1.0)
    assert subscription_status(stack, exempt)[exempt_plan] == "active"
    assert subscription_status(stack, disputed)[disputed_plan] == "active"
    with stack.api() as api:
        exempt_status = api.get(f"/customers/{exempt}/status").json()
        disputed_status = api.get(f"/customers/{disputed}/status").json()
    assert "exempt" in [r["code"] for r in exempt_status["decision"]["blocked_by"]]
    assert disputed_status["decision"]["stage"] is None
    assert disputed_status["decision"]["snapshot"]["disputed"] == {"CNY": "5000.00"}


def test_manual_suspension_is_not_lifted_by_payment(collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    created = add_customer(stack, "Manual Hold Co", [{"kind": "license", "friendly_name": "Dynamics"}])
    cid, sub = created["id"], created["subscriptions"][0]["id"]
    with stack.api() as api:
        api.post("/payment-events", json=_event("customer.updated", cid, name="Manual Hold Co",
                                                contact_email="it@manual.example"))
        wait_until(lambda: api.get(f"/customers/{cid}/status").status_code == 200, what="ledger")
        body = {"reason": "abuse report #42", "subscription_ids": [sub], "request_id": "req-42"}
        assert api.post(f"/customers/{cid}/actions/suspend", json=body).status_code == 202
        assert api.post(f"/customers/{cid}/actions/suspend", json=body).status_code == 202  # a retried click
        wait_until(lambda: subscription_status(stack, cid)[sub] == "suspended", what="manual suspension")
        api.post("/payment-events", json=_event("payment.received", cid, payment_id="PAY-M", amount="10.00",
                                                currency="CNY", received_at=datetime.now(UTC).isoformat()))
        time.sleep(3.0)
        assert subscription_status(stack, cid)[sub] == "suspended"
        history = api.get(f"/customers/{cid}/status").json()["history"]
        assert len([e for e in history if e["action"] == "suspend" and e["outcome"] == "done"]) == 1
        closed = {"reason": "report closed", "all_subscriptions": True}
        assert api.post(f"/customers/{cid}/actions/reactivate", json=closed).status_code == 202
        wait_until(lambda: subscription_status(stack, cid)[sub] == "active", what="manual reactivation")
        no_actor = api.post(f"/customers/{cid}/actions/suspend", json=body, headers={"x-actor": ""})
        assert no_actor.status_code == 401 and "X-Actor" in no_actor.json()["error"]


def test_invalid_events_are_refused_over_http_and_parked_from_the_queue(collections_stack: CollectionsStack) -> None:
    import base64

    from azure.storage.queue import QueueClient

    stack = collections_stack
    with stack.api() as api:
        r = api.post("/payment-events", json=[_event("invoice.issued", "c1", invoice_id="I", amount=12.5,
                                                     currency="CNY", issue_date="2026-01-01", due_date="2026-01-31")])
        assert r.status_code == 400
        assert "amount" in r.json()["problems"][0]["error"]
        assert api.post("/payment-events", content=b"{not json").status_code == 400
    q = QueueClient.from_connection_string(stack.azurite.connection_string, "payment-events")
    bad = {"schema_version": 1, "kind": "payment.received", "idempotency_key": "bad-1",
           "payload": {"event_id": "bad-1", "customer_id": "c1"}}
    import json

    q.send_message(base64.b64encode(json.dumps(bad).encode()).decode())
    with stack.api() as api:
        letters = wait_until(lambda: [d for d in api.get("/dead-letters", params={"queue": "payment-events"})
                                      .json()["items"] if '"bad-1"' in d["body"]], what="dead letter")
    assert "invalid payment.received payload" in letters[0]["reason"] and "amount" in letters[0]["reason"]


def test_manual_action_on_a_nonpayment_suspension_takes_it_over(collections_stack: CollectionsStack) -> None:
    """Suspended for non-payment, then an abuse report: the operator's suspension owns the subscription now,
    so the customer's payment must not lift it."""
    stack = collections_stack
    cid, plan = _ready_for_suspension(stack, "Double Trouble Co")
    _run_sweep(stack)
    wait_until(lambda: [e for e in stack_history(stack, cid) if e["action"] == "suspend" and e["outcome"] == "done"],
               what="non-payment suspension recorded")
    with stack.api() as api:
        body = {"reason": "abuse report #7", "subscription_ids": [plan], "request_id": "abuse-7"}
        assert api.post(f"/customers/{cid}/actions/suspend", json=body).status_code == 202
        wait_until(lambda: [r for r in api.get(f"/customers/{cid}/status").json()["suspended_by_csp_guard"]
                            if r["reason"] == "manual"], what="record taken over")
        api.post("/payment-events", json=_event("payment.received", cid, payment_id="PAY-DT", amount="5000.00",
                                                currency="CNY", received_at=datetime.now(UTC).isoformat()))
        wait_until(lambda: api.get(f"/customers/{cid}/status").json()["case"] is None, what="case closed by payment")
    time.sleep(2.5)
    assert subscription_status(stack, cid)[plan] == "suspended"
