"""The misuse story end to end through the runner's HTTP API, its queues, the sandbox and SMTP, on an Azure plan
with Azure subscriptions and an Office licence: a GPU spike in one Azure subscription is detected from usage, a
case opens, exactly that Azure subscription is disabled while investigating (the plan and the licence stay
active), case, audit and alerts say what the sandbox shows, a service request e-mail reaches 21Vianet support, a
payment does not lift the containment, a second scan changes nothing, and resolving the case as legitimate
reactivates exactly that Azure subscription."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e_collections.conftest import CollectionsStack, entitlement_status, subscription_status, wait_until
from tests.e2e_fraud.conftest import (
    SUPPORT,
    azure_subscriptions,
    collections_stores,
    customer_with_history,
    fraud_stores,
    inject_gpu_spike,
    run_scan,
)

pytestmark = pytest.mark.e2e


def _support_mail(stack: CollectionsStack, customer_id: str) -> list[Any]:
    return [m for m in stack.mailbox.messages() if SUPPORT in str(m["To"]) and customer_id in str(m["Subject"])]


def _event(kind: str, customer_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"{kind}-{uuid.uuid4().hex[:10]}", "customer_id": customer_id,
            "occurred_at": datetime.now(UTC).isoformat(), **fields}


def test_gpu_spike_is_contained_reported_and_released_when_legitimate(contain_stack: CollectionsStack) -> None:
    stack = contain_stack
    calm, calm_plan = customer_with_history(stack, "Calm Compute Ltd")
    cid, plan = customer_with_history(stack, "GPU Spike Ltd")
    inject_gpu_spike(stack, cid, plan)

    run = run_scan(stack)
    assert run["status"] == "completed", run
    assert run["cases_opened"] == 1 and run["containments"] == 1 and run["lines"] > 0

    # the case names the GPU signal and the customer's exposure comes from the same scan
    with stack.api() as api:
        case = api.get(f"/fraud/cases/{cid}").json()
        assert api.get(f"/fraud/cases/{calm}").status_code == 404
        listed = [c["case"]["customer_id"] for c in api.get("/fraud/cases").json()["items"]]
    assert cid in listed and calm not in listed
    assert "risky-meter.contain" in [h["rule_id"] for h in case["case"]["hits"]]
    assert case["case"]["first_action_at"] is not None and case["within_guidance"] is True
    exposure = collections_stores(stack).exposure.get(cid, "unbilled")
    assert exposure is not None and exposure.unbilled.amount >= 3000

    # exactly the Azure subscription that ran the GPUs is disabled; the plan, the licence and the calm customer not
    running, idle = azure_subscriptions(stack, cid, plan)
    label = f"{plan}/{running}"
    wait_until(lambda: entitlement_status(stack, cid)[running] == "disabled", what="Azure subscription disabled")
    statuses = subscription_status(stack, cid)
    assert statuses[plan] == "active" and set(statuses.values()) == {"active"}  # plan and Office licence
    assert entitlement_status(stack, cid)[idle] == "disabled"  # disabled before, not by csp-guard
    assert set(entitlement_status(stack, calm).values()) == {"active", "disabled"}
    assert entitlement_status(stack, calm)[azure_subscriptions(stack, calm, calm_plan)[0]] == "active"
    # written before the call, completed with what the read-back showed once the worker saw it disabled
    record = wait_until(lambda: (lambda r: r if r is not None and r.verified_at else None)(
        collections_stores(stack).suspensions.get(cid, f"{plan}_{running}")), what="suspension recorded")
    assert record is not None and record.reason == "fraud" and record.case_id == case["case"]["case_id"]
    assert record.entitlement_id == running and record.verified_at is not None and record.seen_status == "disabled"
    assert [r.label for r in collections_stores(stack).suspended_by_us(cid)] == [label]

    # the case says what the sandbox shows: contained, verified, exactly that target
    with stack.api() as api:
        contained = wait_until(lambda: (lambda c: c if c["case"]["containment"]["status"] == "contained" else None)(
            api.get(f"/fraud/cases/{cid}").json()), what="containment verified on the case")
    c = contained["case"]["containment"]
    assert c["contained"] == [label] and c["failed"] == [] and c["targets"] == [label] and c["verified_at"]
    assert contained["case"]["suspended"] == [label]
    audit = _audit(stack, cid)
    suspend = next(e for e in audit if e.action == "suspend")
    assert suspend.outcome == "done" and suspend.evidence["changed"] == [label]
    assert [(t["target"], t["status"], t["verified"]) for t in suspend.evidence["targets"]] == [
        (label, "disabled", True)]
    assert next(e for e in audit if e.action == "fraud.containment").outcome == "contained"
    alert = [m for m in stack.mailbox.messages() if "Possible fraud" in str(m["Subject"]) and
             "GPU Spike Ltd" in str(m["Subject"])]
    text = alert[0].get_body(("plain",)).get_content()
    assert "containment requested" in text and running in text and "suspended" not in text.lower()

    # the service request with its evidence pack lands in 21Vianet's mailbox, tracked on the case
    mail = wait_until(lambda: _support_mail(stack, cid), what="service request e-mail")
    body = mail[0].get_body(("plain",)).get_content()
    assert "risky-meter.contain" in body and plan in body and "GPU Spike Ltd" in body
    with stack.api() as api:
        tracked = wait_until(lambda: (lambda c: c if c["service_request"]["status"] == "sent" else None)(
            api.get(f"/fraud/cases/{cid}").json()), what="service request tracked")
    assert tracked["service_request"]["reference"] == mail[0]["Message-ID"]
    assert tracked["case"]["suspended"] == [label] and tracked["case"]["status"] == "investigating"

    # a payment does not lift a fraud suspension
    with stack.api() as api:
        assert api.post("/payment-events", json=[
            _event("customer.updated", cid, name="GPU Spike Ltd", contact_email="ap@gpuspike.example"),
            _event("payment.received", cid, payment_id="PAY-F1", amount="5000.00", currency="CNY",
                   received_at=datetime.now(UTC).isoformat())]).status_code == 202
    wait_until(lambda: (lambda led: led is not None and led.summary.payments)(collections_stores(stack).ledger(cid)),
               what="payment recorded")
    time.sleep(1.5)  # the payment's re-evaluation has had its chance to (wrongly) reactivate
    assert entitlement_status(stack, cid)[running] == "disabled"

    # a second scan over the same usage opens no second case and sends no second request
    again = run_scan(stack)
    assert again["status"] == "completed" and again["cases_opened"] == 0 and again["containments"] == 0
    with stack.api() as api:
        r = api.post(f"/fraud/cases/{cid}/service-request", json={})
        assert r.status_code == 200 and r.json()["queued"] is False
    time.sleep(1.0)
    assert len(_support_mail(stack, cid)) == 1
    assert len([r for r in fraud_stores(stack).cases.partition(cid)]) == 1

    # resolved as legitimate: what the case suspended is reactivated, and the label is kept
    with stack.api() as api:
        assert api.post(f"/fraud/cases/{cid}/resolve", json={"label": "maybe"}).status_code == 400
        assert api.post(f"/fraud/cases/{cid}/resolve", json={"label": "legitimate"},
                        headers={"x-actor": ""}).status_code == 401
        r = api.post(f"/fraud/cases/{cid}/resolve", json={"label": "legitimate", "note": "planned AI training"})
        assert r.status_code == 200, r.text
        reactivation = r.json()["reactivation"]
        assert reactivation["subscription_ids"] == [] and reactivation["entitlements"] == [
            {"plan_subscription_id": plan, "entitlement_id": running}]
        assert api.post(f"/fraud/cases/{cid}/resolve", json={"label": "fraud"}).status_code == 409
    wait_until(lambda: entitlement_status(stack, cid)[running] == "active", what="Azure subscription reactivated")
    assert entitlement_status(stack, cid)[idle] == "disabled"  # never csp-guard's: left as it was
    wait_until(lambda: collections_stores(stack).suspended_by_us(cid) == [], what="record lifted")
    lifted = wait_until(lambda: next((e for e in _audit(stack, cid) if e.action == "reactivate"), None),
                        what="reactivation audited")  # the audit follows the verified read-back
    assert lifted.outcome == "done" and [(t["target"], t["status"]) for t in lifted.evidence["targets"]] == [
        (label, "active")]
    with stack.api() as api:
        final = api.get(f"/fraud/cases/{cid}").json()
        assert final["case"]["label"] == "legitimate" and final["case"]["status"] == "resolved_legitimate"
        assert api.get("/fraud/cases", params={"status": "bogus"}).status_code == 400
        assert cid in [c["case"]["customer_id"] for c in
                       api.get("/fraud/cases", params={"status": "resolved_legitimate"}).json()["items"]]

    # the same signals after resolution do not reopen the incident
    third = run_scan(stack)
    assert third["cases_opened"] == 0
    assert entitlement_status(stack, cid)[running] == "active" and subscription_status(stack, cid)[plan] == "active"


def _audit(stack: CollectionsStack, customer_id: str) -> list[Any]:
    """The customer's audit entries, newest first (what an operator's status page shows)."""
    from shared.context import AppContext
    from shared.settings import load_settings

    return list(AppContext(load_settings(**stack.settings)).audit.history(customer_id, 50))
