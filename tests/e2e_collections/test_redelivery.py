"""At-least-once delivery: every message type of the collections flow delivered twice acts once; events out of
order give the same ledger; an operator can migrate a case to the current policy."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared.messaging import Envelope, Queue, QueueProducer
from shared.services.messages import CollectionsNotice, EnforcementRequest, SweepShard
from shared.services.state import CollectionsState, Stores
from shared.storage.azure import AzureTables
from tests.e2e_collections.conftest import CollectionsStack, add_customer, subscription_status, wait_until

pytestmark = pytest.mark.e2e


def _event(kind: str, customer_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"{kind}-{uuid.uuid4().hex[:10]}", "customer_id": customer_id,
            "occurred_at": datetime.now(UTC).isoformat(), **fields}


def _send_twice(stack: CollectionsStack, queue: Queue, envelope: Envelope) -> None:
    producer = QueueProducer.from_connection_string(stack.azurite.connection_string)
    producer.send(queue, envelope)
    producer.send(queue, envelope)


def _history(stack: CollectionsStack, cid: str) -> list[dict[str, Any]]:
    with stack.api() as api:
        return api.get(f"/customers/{cid}/status").json()["history"]  # type: ignore[no-any-return]


def _customer(stack: CollectionsStack, name: str) -> tuple[str, str]:
    created = add_customer(stack, name, [{"kind": "license", "friendly_name": "Office"}])
    cid = created["id"]
    with stack.api() as api:
        api.post("/payment-events", json=_event("customer.updated", cid, name=name,
                                                contact_email=f"ap@{cid[:8]}.example"))
        wait_until(lambda: api.get(f"/customers/{cid}/status").status_code == 200, what="ledger")
    return cid, created["subscriptions"][0]["id"]


def test_enforcement_request_delivered_twice_patches_once(collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    cid, sub = _customer(stack, "Twice Suspended Co")
    request = EnforcementRequest(action="suspend", customer_id=cid, reason="manual", key=f"manual:{cid}:dup",
                                 detail="redelivery test", actor="operator:test", subscription_ids=(sub,),
                                 requested_at=datetime.now(UTC))
    _send_twice(stack, Queue.ENFORCEMENT, request.envelope())
    wait_until(lambda: subscription_status(stack, cid)[sub] == "suspended", what="suspended")
    time.sleep(2.5)  # the second copy has been handled too
    done = [e for e in _history(stack, cid) if e["action"] == "suspend"]
    assert [e["outcome"] for e in done] == ["done"]
    with stack.sandbox_admin() as admin:
        calls = admin.get("/_sandbox/calls").json()
    items = calls["calls"] if isinstance(calls, dict) else calls
    patches = [c for c in items if c["method"] == "PATCH" and sub in c["path"]]
    assert len(patches) == 1


def test_notice_delivered_twice_sends_one_email(collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    cid, _ = _customer(stack, "Twice Noticed Co")
    today = date.today()
    with stack.api() as api:
        api.post("/payment-events", json=_event(
            "invoice.issued", cid, invoice_id="INV-TWICE", amount="900.00", currency="CNY",
            issue_date=(today - timedelta(days=40)).isoformat(), due_date=(today - timedelta(days=10)).isoformat()))
    wait_until(lambda: [m for m in stack.mailbox.messages() if cid[:8] in str(m["To"])], what="overdue notice")
    notice = CollectionsNotice(customer_id=cid, key=f"{cid}:manual-dup-notice", stage_id="overdue",
                               template="overdue_reminder", reason="redelivery test")
    _send_twice(stack, Queue.NOTIFICATIONS, notice.envelope())
    wait_until(lambda: len([m for m in stack.mailbox.messages() if cid[:8] in str(m["To"])]) >= 2,
               what="the redelivered notice")
    time.sleep(2.5)
    mails = [m for m in stack.mailbox.messages() if cid[:8] in str(m["To"])]
    assert len(mails) == 2  # the sweep-free event path's overdue notice, and the test's notice once
    assert len({m["Message-ID"] for m in mails}) == 2


def test_sweep_shard_delivered_twice_is_evaluated_once(collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    with stack.api() as api:
        run = api.post("/collections/sweep").json()
        done = wait_until(lambda: (lambda r: r if r["status"] != "running" else None)(
            api.get(f"/collections/runs/{run['run_id']}").json()), what="sweep")
    stores = Stores(AzureTables.from_connection_string(stack.azurite.connection_string))
    first = stores.shards.get(run["run_id"], "shard-0")
    assert first is not None
    shard = SweepShard(run_id=run["run_id"], shard=0, shards=done["shards"],
                       customer_ids=tuple(stores.customers()[:200]), as_of=datetime.now(UTC))
    QueueProducer.from_connection_string(stack.azurite.connection_string).send(Queue.SWEEP_SHARDS, shard.envelope())
    time.sleep(3.0)
    with stack.api() as api:
        after = api.get(f"/collections/runs/{run['run_id']}").json()
    assert after["shards_done"] == done["shards_done"] == done["shards"]
    assert stores.shards.get(run["run_id"], "shard-0") == first


def test_payment_before_its_invoice_gives_the_same_ledger(collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    cid, _ = _customer(stack, "Out Of Order Co")
    today = date.today()
    invoice = _event("invoice.issued", cid, invoice_id="INV-OOO", amount="300.00", currency="CNY",
                     issue_date=(today - timedelta(days=40)).isoformat(),
                     due_date=(today - timedelta(days=10)).isoformat())
    payment = _event("payment.received", cid, payment_id="PAY-OOO", amount="300.00", currency="CNY",
                     received_at=datetime.now(UTC).isoformat(), invoice_id="INV-OOO")
    with stack.api() as api:
        assert api.post("/payment-events", json=payment).status_code == 202
        time.sleep(1.0)
        assert api.post("/payment-events", json=invoice).status_code == 202
        status = wait_until(lambda: (lambda s: s if s["invoices"] else None)(
            api.get(f"/customers/{cid}/status").json()), what="invoice applied")
    inv = status["invoices"][0]
    assert inv["paid"] == "300.00" and inv["open"] == "0.00"
    assert status["decision"]["stage"] is None and status["case"] is None


def test_operator_migrates_a_case_to_the_current_policy(collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    cid, _ = _customer(stack, "Old Policy Co")
    stores = Stores(AzureTables.from_connection_string(stack.azurite.connection_string))
    today = date.today()
    with stack.api() as api:
        api.post("/payment-events", json=_event(
            "invoice.issued", cid, invoice_id="INV-OLD", amount="900.00", currency="CNY",
            issue_date=(today - timedelta(days=40)).isoformat(), due_date=(today - timedelta(days=10)).isoformat()))
        wait_until(lambda: stores.collections_state(cid).case, what="case opened")
        assert api.post(f"/customers/{cid}/case/migrate", json={"reason": "x"}).status_code == 409  # already current

        def pretend_old(state: CollectionsState | None) -> CollectionsState | None:
            assert state is not None and state.case is not None
            return state.model_copy(update={"case": state.case.model_copy(update={"policy_version": "older"})})

        stores.cases.update(cid, "collections", pretend_old)
        # an unknown old version is refused by evaluation until the operator migrates the case
        assert api.post(f"/customers/{cid}/case/migrate", json={}).status_code == 400
        r = api.post(f"/customers/{cid}/case/migrate", json={"reason": "policy 2026-11 applies to all"})
        assert r.status_code == 200, r.text
        assert r.json()["case"]["policy_version"] == "e2e-1"
        assert any(e["action"] == "case.migrated" for e in _history(stack, cid))


def test_a_failed_reactivation_is_not_remembered_so_a_retry_can_succeed(collections_stack: CollectionsStack) -> None:
    from shared.storage.idempotency import IdempotencyStore

    stack = collections_stack
    cid, sub = _customer(stack, "Refused Reactivation Co")
    with stack.api() as api:
        body = {"reason": "abuse report", "subscription_ids": [sub], "request_id": "r-1"}
        assert api.post(f"/customers/{cid}/actions/suspend", json=body).status_code == 202
        wait_until(lambda: [e for e in _history(stack, cid) if e["action"] == "suspend" and e["outcome"] == "done"],
                   what="suspension done and recorded")
    with stack.sandbox_admin() as admin:  # Partner Center will refuse: a deleted subscription cannot change (2011)
        admin.patch(f"/_sandbox/subscriptions/{sub}", json={"status": "deleted"}).raise_for_status()
    request = EnforcementRequest(action="reactivate", customer_id=cid, reason="manual", key=f"manual:{cid}:re-1",
                                 detail="report closed", actor="operator:test", subscription_ids=(sub,),
                                 requested_at=datetime.now(UTC))
    producer = QueueProducer.from_connection_string(stack.azurite.connection_string)
    producer.send(Queue.ENFORCEMENT, request.envelope())
    failed = wait_until(lambda: [e for e in _history(stack, cid) if e["action"] == "reactivate"], what="attempt")
    assert failed[0]["outcome"] == "failed" and sub in failed[0]["evidence"]["failed"]
    idem = IdempotencyStore(AzureTables.from_connection_string(stack.azurite.connection_string))
    assert idem.status("enforcement", request.key) is None  # released, not remembered as done
    with stack.sandbox_admin() as admin:
        admin.patch(f"/_sandbox/subscriptions/{sub}", json={"status": "suspended"}).raise_for_status()
    producer.send(Queue.ENFORCEMENT, request.envelope())  # the same key, tried again
    wait_until(lambda: subscription_status(stack, cid)[sub] == "active", what="reactivated on retry")
    outcomes = wait_until(lambda: (lambda o: o if len(o) == 2 else None)(
        [e["outcome"] for e in _history(stack, cid) if e["action"] == "reactivate"]), what="retry audited")
    assert outcomes == ["done", "failed"]
