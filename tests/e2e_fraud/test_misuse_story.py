"""The misuse story end to end through the runner's HTTP API, its queues, the sandbox and SMTP: a GPU spike
is detected from usage, a case opens, the subscription is suspended while investigating, a service request
e-mail reaches 21Vianet support, a payment does not lift the suspension, a second scan changes nothing,
and resolving the case as legitimate reactivates the subscription."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e_collections.conftest import CollectionsStack, subscription_status, wait_until
from tests.e2e_fraud.conftest import (
    SUPPORT,
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

    # suspended while investigating, recorded as a fraud suspension of this case
    wait_until(lambda: subscription_status(stack, cid)[plan] == "suspended", what="plan suspended")
    assert subscription_status(stack, calm)[calm_plan] == "active"
    record = wait_until(lambda: collections_stores(stack).suspensions.get(cid, plan), what="suspension recorded")
    assert record is not None and record.reason == "fraud" and record.case_id == case["case"]["case_id"]

    # the service request with its evidence pack lands in 21Vianet's mailbox, tracked on the case
    mail = wait_until(lambda: _support_mail(stack, cid), what="service request e-mail")
    body = mail[0].get_body(("plain",)).get_content()
    assert "risky-meter.contain" in body and plan in body and "GPU Spike Ltd" in body
    with stack.api() as api:
        tracked = wait_until(lambda: (lambda c: c if c["service_request"]["status"] == "sent" else None)(
            api.get(f"/fraud/cases/{cid}").json()), what="service request tracked")
    assert tracked["service_request"]["reference"] == mail[0]["Message-ID"]
    assert tracked["case"]["suspended"] == [plan] and tracked["case"]["status"] == "investigating"

    # a payment does not lift a fraud suspension
    with stack.api() as api:
        assert api.post("/payment-events", json=[
            _event("customer.updated", cid, name="GPU Spike Ltd", contact_email="ap@gpuspike.example"),
            _event("payment.received", cid, payment_id="PAY-F1", amount="5000.00", currency="CNY",
                   received_at=datetime.now(UTC).isoformat())]).status_code == 202
    wait_until(lambda: (lambda led: led is not None and led.summary.payments)(collections_stores(stack).ledger(cid)),
               what="payment recorded")
    time.sleep(1.5)  # the payment's re-evaluation has had its chance to (wrongly) reactivate
    assert subscription_status(stack, cid)[plan] == "suspended"

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
        assert r.json()["reactivation"]["subscription_ids"] == [plan]
        assert api.post(f"/fraud/cases/{cid}/resolve", json={"label": "fraud"}).status_code == 409
    wait_until(lambda: subscription_status(stack, cid)[plan] == "active", what="plan reactivated")
    with stack.api() as api:
        final = api.get(f"/fraud/cases/{cid}").json()
        assert final["case"]["label"] == "legitimate" and final["case"]["status"] == "resolved_legitimate"
        assert api.get("/fraud/cases", params={"status": "bogus"}).status_code == 400
        assert cid in [c["case"]["customer_id"] for c in
                       api.get("/fraud/cases", params={"status": "resolved_legitimate"}).json()["items"]]

    # the same signals after resolution do not reopen the incident
    third = run_scan(stack)
    assert third["cases_opened"] == 0
    assert subscription_status(stack, cid)[plan] == "active"
