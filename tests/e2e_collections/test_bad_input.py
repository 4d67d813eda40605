"""Ordinary-looking mistakes of a producer or an operator, sent through the runner's HTTP API and queues
(issue 14): none may suspend a paying customer, lose a payment or break anyone else's evaluation."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from azure.storage.queue import QueueClient

from shared.collections import CustomerLedger, apply_event
from shared.domain import PaymentInTransit
from shared.services.state import CollectionsState, Stores
from shared.storage.azure import AzureTables
from tests.conftest import own_azurite  # noqa: F401  (this module's own storage)
from tests.e2e_collections.conftest import CollectionsStack, add_customer, subscription_status, wait_until

pytestmark = pytest.mark.e2e




def _event(kind: str, customer_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"{kind}-{uuid.uuid4().hex[:10]}", "customer_id": customer_id,
            "occurred_at": datetime.now(UTC).isoformat(), **fields}


def _stores(stack: CollectionsStack) -> Stores:
    return Stores(AzureTables.from_connection_string(stack.azurite.connection_string))


def _customer(stack: CollectionsStack, name: str, days_overdue: int = 40, **profile: Any) -> tuple[str, list[str]]:
    created = add_customer(stack, name, [{"kind": "azure_plan", "friendly_name": "Azure plan"},
                                         {"kind": "license", "friendly_name": "Office 365 E3"}])
    cid = created["id"]
    today = date.today()
    events = [_event("customer.updated", cid, name=name, contact_email=f"ap@{cid[:8]}.example", **profile),
              _event("invoice.issued", cid, invoice_id=f"INV-{cid[:6]}", amount="5000.00", currency="CNY",
                     issue_date=(today - timedelta(days=days_overdue + 30)).isoformat(),
                     due_date=(today - timedelta(days=days_overdue)).isoformat())]
    with stack.api() as api:
        assert api.post("/payment-events", json=events).status_code == 202
        wait_until(lambda: api.get(f"/customers/{cid}/status").status_code == 200, what="ledger")
    return cid, [s["id"] for s in created["subscriptions"]]


def _status(stack: CollectionsStack, cid: str) -> dict[str, Any]:
    with stack.api() as api:
        r = api.get(f"/customers/{cid}/status")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def _letters(stack: CollectionsStack, needle: str) -> list[dict[str, Any]] | None:
    with stack.api() as api:
        items = api.get("/dead-letters", params={"queue": "payment-events"}).json()["items"]
    return [d for d in items if needle in d["body"]] or None


def _run_sweep(stack: CollectionsStack) -> dict[str, Any]:
    with stack.api() as api:
        run = api.post("/collections/sweep").json()
        return wait_until(lambda: (lambda r: r if r["status"] != "running" else None)(
            api.get(f"/collections/runs/{run['run_id']}").json()), what="sweep to finish")


def _mail(stack: CollectionsStack, subject_part: str) -> list[Any] | None:
    return [m for m in stack.mailbox.messages() if subject_part in str(m["Subject"])] or None


def _rewind_notices(stack: CollectionsStack, cid: str, days: int) -> None:
    def rewind(state: CollectionsState | None) -> CollectionsState | None:
        assert state is not None and state.case is not None
        case = state.case.model_copy(update={"opened_at": state.case.opened_at - timedelta(days=days)})
        notices = [n.model_copy(update={"sent_at": n.sent_at - timedelta(days=days)}) for n in state.notices]
        return state.model_copy(update={"case": case, "notices": notices})

    _stores(stack).cases.update(cid, "collections", rewind)


def test_dates_outside_the_window_are_refused_with_the_window_named(collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    cid, _ = _customer(stack, "Far Future Ltd", days_overdue=3)
    with stack.api() as api:
        r = api.post("/payment-events", json=_event("payment.in_transit", cid, reference="TT-1",
                                                    hold_until="9999-12-31"))
        assert r.status_code == 400
        assert "hold_until" in r.text and "2099-12-31" in r.text
        r = api.post("/payment-events", json=_event("invoice.issued", cid, invoice_id="OLD", amount="1.00",
                                                    currency="CNY", issue_date="0001-01-01", due_date="0001-01-31"))
        assert r.status_code == 400 and "issue_date" in r.text
        r = api.post(f"/customers/{cid}/overrides/hold", json={"reason": "wait", "until": "9999-12-31"})
        assert r.status_code == 400 and "until" in r.json()["error"]
        for at in ("0001-01-01", "9999-12-31"):
            r = api.get("/collections/preview", params={"at": at})
            assert r.status_code == 400 and "window" in r.json()["error"]


def test_one_customers_bad_stored_data_is_reported_for_it_alone_and_its_payments_still_apply(
        collections_stack: CollectionsStack) -> None:
    """A hold until 9999-12-31 stored before the ingress refused it: the engine overflows on that customer,
    which was suspended for non-payment before; it pays in full and must be reactivated."""
    stack = collections_stack
    good, _ = _customer(stack, "Good Neighbour Ltd", days_overdue=3)
    bad, subs = _customer(stack, "Legacy Data Ltd", days_overdue=40)
    wait_until(lambda: _stores(stack).collections_state(bad).notices or None, what="final notice recorded")
    _rewind_notices(stack, bad, days=8)
    _run_sweep(stack)
    plan = subs[0]  # the Azure plan: the suspend_usage stage's scope
    wait_until(lambda: subscription_status(stack, bad)[plan] == "suspended" or None, what="non-payment suspension")
    legacy = PaymentInTransit.model_construct(
        type="payment.in_transit", event_id="legacy-hold", customer_id=bad, reference="TT-9999",
        hold_until=date.max, amount=None, currency=None, occurred_at=datetime.now(UTC))

    def add(ledger: CustomerLedger | None) -> CustomerLedger:
        assert ledger is not None
        return apply_event(ledger, legacy)

    _stores(stack).ledgers.update(bad, "ledger", add)
    with stack.api() as api:
        preview = api.get("/collections/preview")
        assert preview.status_code == 200, preview.text
        body = preview.json()
        assert [e["customer_id"] for e in body["errors"]] == [bad]
        assert "OverflowError" in body["errors"][0]["error"]
        assert good in {i["customer_id"] for i in body["items"]}  # everyone else is still evaluated
    status = _status(stack, bad)
    assert status["decision"] is None and "OverflowError" in status["evaluation_error"]
    assert _status(stack, good)["evaluation_error"] is None

    run = _run_sweep(stack)
    assert run["status"] == "completed" and any(bad in e for e in run["errors"])
    wait_until(lambda: _mail(stack, "could not evaluate some customers"), what="sweep errors alert")

    with stack.api() as api:  # the customer pays in full: the payment is recorded, not parked
        r = api.post("/payment-events", json=_event("payment.received", bad, payment_id="PAY-LEGACY",
                                                    amount="5000.00", currency="CNY",
                                                    received_at=datetime.now(UTC).isoformat()))
        assert r.status_code == 202
    wait_until(lambda: _status(stack, bad)["invoices"][0]["open"] == "0.00" or None, what="payment applied")
    wait_until(lambda: _mail(stack, "A customer cannot be evaluated"), what="evaluation alert")
    assert _letters(stack, "PAY-LEGACY") is None
    assert any(e["action"] == "evaluation.failed" for e in _status(stack, bad)["history"])
    wait_until(lambda: subscription_status(stack, bad)[plan] == "active" or None, what="paid: reactivated")
    _stores(stack).ledgers.delete(bad, "ledger")  # leave the stack's portfolio evaluable for the other tests


@pytest.mark.parametrize("bad_id", ["..", "a b", "x%2Fy", "ü-tenant", "abc' or PartitionKey ne '",
                                    "12345678-1234-1234-1234-12345678901", "12345678-1234-1234-1234-1234567890123"])
def test_route_customer_ids_that_are_not_tenant_ids_get_a_400(collections_stack: CollectionsStack,
                                                              bad_id: str) -> None:
    from urllib.parse import quote

    with collections_stack.api() as api:
        path = quote(bad_id, safe="")
        for method, route, body in [("GET", f"/customers/{path}/status", None),
                                    ("POST", f"/customers/{path}/actions/suspend",
                                     {"reason": "abuse", "all_subscriptions": True}),
                                    ("POST", f"/customers/{path}/overrides/hold",
                                     {"reason": "x", "until": "2030-01-01"}),
                                    ("POST", f"/customers/{path}/disputes", {"invoice_id": "I"}),
                                    ("GET", f"/fraud/cases/{path}", None),
                                    ("POST", f"/fraud/cases/{path}/notes", {"text": "x"})]:
            r = api.request(method, route, json=body)
            assert r.status_code in (400, 404), (route, r.status_code, r.text)
            if r.status_code == 400:
                assert "tenant" in r.json()["error"], r.text


def test_customer_ids_are_normalised_so_upper_case_pays_the_same_ledger(collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    cid, _ = _customer(stack, "Upper Case Payer Ltd", days_overdue=3)
    with stack.api() as api:
        r = api.post("/payment-events", json=_event("payment.received", cid.upper(), payment_id="PAY-UC",
                                                    amount="5000.00", currency="CNY",
                                                    received_at=datetime.now(UTC).isoformat()))
        assert r.status_code == 202
        wait_until(lambda: api.get(f"/customers/{cid.upper()}/status").json()["invoices"][0]["open"] == "0.00"
                   or None, what="upper-case payment applied to the one ledger")
        assert api.get(f"/customers/{cid}/status").json()["customer_id"] == cid
        for bad in ("..", "a b", "%", "ü", "c1", "x' or 'a' eq 'a"):
            r = api.post("/payment-events", json=_event("invoice.written_off", bad, invoice_id="I"))
            assert r.status_code == 400 and "customer_id" in r.json()["problems"][0]["error"]
    q = QueueClient.from_connection_string(stack.azurite.connection_string, "payment-events")
    message = {"schema_version": 1, "kind": "invoice.written_off", "idempotency_key": "bad-id-1",
               "payload": _event("invoice.written_off", "..\\..", invoice_id="I", event_id="bad-id-1")}
    q.send_message(base64.b64encode(json.dumps(message).encode()).decode())
    letters = wait_until(lambda: _letters(stack, "bad-id-1"), what="dead letter")
    assert "customer_id" in letters[0]["reason"] and "tenant" in letters[0]["reason"]


def test_manual_actions_with_a_typo_or_no_target_are_refused_and_touch_nothing(
        collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    cid, subs = _customer(stack, "Typo Target Ltd", days_overdue=3)
    url = f"/customers/{cid}/actions/suspend"
    with stack.api() as api:
        r = api.post(url, json={"reason": "abuse report", "subscription_id": subs[0]})
        assert r.status_code == 400 and r.json()["unknown_fields"] == ["subscription_id"]
        r = api.post(url, json={"reason": "abuse report", "subscription_ids": []})
        assert r.status_code == 400 and "empty" in r.json()["error"]
        r = api.post(url, json={"reason": "abuse report"})
        assert r.status_code == 400 and "all_subscriptions" in r.json()["error"]
        unknown = str(uuid.uuid4())
        r = api.post(url, json={"reason": "abuse report", "subscription_ids": [subs[0], unknown]})
        named = r.json()["error"].split(" in Partner Center")[0]
        assert r.status_code == 400 and unknown in named and subs[0] not in named
        for route, body in [(f"/customers/{cid}/case/migrate", {"reason": "x", "force": True}),
                            (f"/customers/{cid}/disputes", {"invoice_id": "I", "customer_id": cid}),
                            ("/approvals/decide", {"key": "k", "decision": "approve", "notes": "typo"}),
                            (f"/fraud/cases/{cid}/resolve", {"label": "legitimate", "reason": "typo"})]:
            r = api.post(route, json=body)
            assert r.status_code == 400 and r.json().get("unknown_fields"), (route, r.text)
    time.sleep(1.5)
    assert set(subscription_status(stack, cid).values()) == {"active"}
    with stack.api() as api:  # the explicit forms work; an id in another case is Partner Center's spelling
        r = api.post(url, json={"reason": "abuse report", "subscription_ids": [subs[0].upper()]})
        assert r.status_code == 202 and r.json()["queued"]["subscription_ids"] == [subs[0]]
    wait_until(lambda: subscription_status(stack, cid)[subs[0]] == "suspended" or None, what="named suspension")
    assert subscription_status(stack, cid)[subs[1]] == "active"


def test_a_payment_id_restated_is_a_no_op_and_a_conflicting_one_is_kept_with_its_reason(
        collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    cid, _ = _customer(stack, "Twice Paid Ltd", days_overdue=3)
    at = datetime.now(UTC).isoformat()
    pay = {"payment_id": "PAY-SAME", "amount": "1000.00", "currency": "CNY", "received_at": at}
    with stack.api() as api:
        first, retry = _event("payment.received", cid, **pay), _event("payment.received", cid, **pay)
        conflict = _event("payment.received", cid, **{**pay, "amount": "2000.00"})
        assert api.post("/payment-events", json=[first, retry]).status_code == 202
        wait_until(lambda: _status(stack, cid)["invoices"][0]["paid"] == "1000.00" or None, what="first payment")
        r = api.post("/payment-events", json=conflict)  # over HTTP the producer hears of it at once
        recorded_by = (first["event_id"], retry["event_id"])  # whichever of the two the queue applied first
        assert r.status_code == 409 and any(e in r.json()["problems"][0]["error"] for e in recorded_by)
        twin = _event("payment.received", cid, **{**pay, "payment_id": "PAY-TWIN"})
        r = api.post("/payment-events", json=[twin, {**twin, "event_id": "other", "amount": "5.00"}])
        assert r.status_code == 409 and r.json()["problems"][0]["index"] == 1
    q = QueueClient.from_connection_string(stack.azurite.connection_string, "payment-events")
    message = {"schema_version": 1, "kind": "payment.received", "idempotency_key": conflict["event_id"],
               "source": "bank-feed", "payload": conflict}
    q.send_message(base64.b64encode(json.dumps(message).encode()).decode())  # on the queue it is kept
    letters = wait_until(lambda: _letters(stack, conflict["event_id"]), what="conflict kept")
    assert "PAY-SAME" in letters[0]["reason"] and any(e in letters[0]["reason"] for e in recorded_by)
    assert "2000.00" in letters[0]["reason"] and "own payment_id" in letters[0]["reason"]
    assert _status(stack, cid)["invoices"][0]["paid"] == "1000.00"
    assert _letters(stack, retry["event_id"]) is None and _letters(stack, first["event_id"]) is None
    duplicates = [e for e in _status(stack, cid)["history"] if e["action"] == "payment.duplicate"]
    assert len(duplicates) == 1 and "PAY-SAME" in duplicates[0]["reason"]


@pytest.mark.parametrize("amount", [5000, "5000.001", "５０００.00", "5e3", "5,000.00", " 5000"])
def test_money_that_is_not_a_plain_decimal_in_the_currencys_units_is_refused(
        collections_stack: CollectionsStack, amount: Any) -> None:
    cid = str(uuid.uuid4())
    with collections_stack.api() as api:
        r = api.post("/payment-events", json=_event("payment.received", cid, payment_id="P", amount=amount,
                                                    currency="CNY", received_at=datetime.now(UTC).isoformat()))
        assert r.status_code == 400 and "amount" in r.json()["problems"][0]["error"], r.text
        r = api.post("/payment-events", json=_event("payment.received", cid, payment_id="P", amount="12.5",
                                                    currency="JPY", received_at=datetime.now(UTC).isoformat()))
        assert r.status_code == 400 and "smallest unit" in r.text


POST_ROUTES = ["/payment-events", "/collections/sweep", "/approvals/decide", "/fraud/scan",
               "/customers/{cid}/actions/suspend", "/customers/{cid}/overrides/hold", "/customers/{cid}/case/migrate",
               "/customers/{cid}/disputes", "/fraud/cases/{cid}/resolve", "/fraud/cases/{cid}/notes",
               "/fraud/cases/{cid}/service-request", "/fraud/cases/{cid}/contain"]


def test_deeply_nested_json_gets_a_400_on_every_post_route(collections_stack: CollectionsStack) -> None:
    cid = str(uuid.uuid4())
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    with collections_stack.api() as api:
        for route in POST_ROUTES:
            if route in ("/collections/sweep", "/fraud/scan"):
                continue  # take no body
            r = api.post(route.format(cid=cid), content=deep, headers={"content-type": "application/json"})
            assert r.status_code == 400 and "deeper" in r.json()["error"], (route, r.status_code, r.text)
    q = QueueClient.from_connection_string(collections_stack.azurite.connection_string, "payment-events")
    q.send_message(base64.b64encode(b'{"deep-marker": ' + b"[" * 5000 + b"]" * 5000 + b"}").decode())
    letters = wait_until(lambda: _letters(collections_stack, "deep-marker"), what="deep message parked")
    assert "nests too deeply" in letters[0]["reason"]


def test_a_profile_change_never_releases_a_pending_approval_and_is_audited_with_its_source(
        collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    cid, subs = _customer(stack, "Strategic Account Ltd", days_overdue=40, segment="strategic")
    wait_until(lambda: _stores(stack).collections_state(cid).notices or None, what="final notice recorded")
    _rewind_notices(stack, cid, days=8)
    _run_sweep(stack)
    with stack.api() as api:
        pending = [a for a in api.get("/approvals").json()["items"] if a["customer_id"] == cid]
        assert pending, "a strategic customer's suspension waits for approval"
        r = api.post("/payment-events", json=_event("customer.updated", cid, segment="standard"),
                     headers={"x-source-system": "crm-sync"})
        assert r.status_code == 202
        wait_until(lambda: _status(stack, cid)["profile"]["segment"] == "standard" or None, what="segment change")
    run = _run_sweep(stack)
    assert run["planned_suspensions"] == 0
    time.sleep(1.5)
    assert set(subscription_status(stack, cid).values()) == {"active"}
    with stack.api() as api:
        assert [a for a in api.get("/approvals").json()["items"] if a["customer_id"] == cid]
    audit = [e for e in _status(stack, cid)["history"] if e["action"] == "profile.updated"]
    assert audit and audit[0]["actor"] == "system:crm-sync"
    assert audit[0]["evidence"]["changed"]["segment"] == {"from": "strategic", "to": "standard"}
    wait_until(lambda: _mail(stack, "segment changed while its suspension awaits approval"), what="team alert")
    assert subs  # the subscriptions exist in the sandbox


def test_health_shows_the_holiday_data_horizon_and_the_payment_feed(collections_stack: CollectionsStack) -> None:
    with collections_stack.api() as api:
        health = api.get("/health").json()
    assert health["calendar"]["country"] == "CN"
    assert health["calendar"]["first_day_without_official_data"] >= "2027-01-01"
    assert isinstance(health["calendar"]["days_left"], int)
    assert set(health["payment_feed"]) == {"last_event_at", "silent_hours", "limit_hours", "silent"}
    assert isinstance(health["warnings"], list)


def test_a_parked_conflicting_payment_in_upper_case_blocks_the_suspension(collections_stack: CollectionsStack) -> None:
    """The conflict is kept, and while it waits for an operator it blocks harm, whatever the id's case."""
    stack = collections_stack
    cid, subs = _customer(stack, "Parked Payment Ltd", days_overdue=40)
    wait_until(lambda: _stores(stack).collections_state(cid).notices or None, what="final notice recorded")
    _rewind_notices(stack, cid, days=8)
    at = datetime.now(UTC).isoformat()
    with stack.api() as api:
        paid = _event("payment.received", cid, payment_id="PAY-P", amount="100.00", currency="CNY", received_at=at)
        assert api.post("/payment-events", json=paid).status_code == 202
        wait_until(lambda: _status(stack, cid)["invoices"][0]["paid"] == "100.00" or None, what="first payment")
    conflict = _event("payment.received", cid.upper(), payment_id="PAY-P", amount="4900.00", currency="CNY",
                      received_at=at)
    q = QueueClient.from_connection_string(stack.azurite.connection_string, "payment-events")
    q.send_message(base64.b64encode(json.dumps({"schema_version": 1, "kind": "payment.received",
                                                "idempotency_key": conflict["event_id"], "source": "bank",
                                                "payload": conflict}).encode()).decode())
    wait_until(lambda: _letters(stack, conflict["event_id"]), what="conflict parked")
    _run_sweep(stack)
    wait_until(lambda: [e for e in _status(stack, cid)["history"]
                        if e["action"] == "suspend" and e["outcome"] == "blocked"] or None, what="blocked suspension")
    assert set(subscription_status(stack, cid).values()) == {"active"}
    assert subs
