"""Issue 14, messages: what the app could not process is listed, blocks its customer, is replayed once (audited,
validated, never onto enforcement) or discarded; a dead attempt's enforcement is finished by its redelivery;
notices wait for the relay. Everything through the runner on Azurite, the sandbox and the SMTP mailbox."""

from __future__ import annotations

import base64
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient

from devtools.azurite import Azurite, free_port
from devtools.mailbox import Mailbox
from devtools.runner import LocalRunner
from devtools.sandbox import Sandbox, SandboxConfig
from shared.messaging import Queue, QueueProducer
from shared.services.messages import CollectionsNotice, EnforcementRequest
from shared.services.state import Stores, SuspensionRecord
from shared.storage.azure import AzureTables
from tests.e2e_collections.conftest import (
    CollectionsStack,
    add_customer,
    stack_settings,
    subscription_status,
    wait_until,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(azurite: Azurite) -> Iterator[CollectionsStack]:
    """Its own stack: the tests stop and restart the SMTP relay on a fixed port."""
    sandbox = Sandbox(SandboxConfig(seed=11, customers=2)).start()
    mailbox = Mailbox(port=free_port()).start()
    settings = stack_settings(azurite, sandbox, mailbox)
    runner = LocalRunner(settings=settings, port=0, enable_timers=False).start()
    try:
        yield CollectionsStack(runner, sandbox, mailbox, azurite, settings)
    finally:
        runner.stop()
        mailbox.stop()
        sandbox.stop()


def _event(kind: str, customer_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"{kind}-{uuid.uuid4().hex[:10]}", "customer_id": customer_id,
            "occurred_at": datetime.now(UTC).isoformat(), **fields}


def _envelope(event: dict[str, Any]) -> str:
    return json.dumps({"schema_version": 1, "kind": event["type"], "idempotency_key": event["event_id"],
                       "source": "test", "payload": event})


def _raw(stack: CollectionsStack, queue: str, text: str) -> None:
    """A message exactly as a producer wrote it (no encoding added)."""
    client = QueueClient.from_connection_string(stack.azurite.connection_string, queue)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    client.send_message(text)


def _customer(stack: CollectionsStack, name: str) -> tuple[str, str]:
    created = add_customer(stack, name, [{"kind": "license", "friendly_name": "Office"}])
    cid = created["id"]
    with stack.api() as api:
        api.post("/payment-events", json=_event("customer.updated", cid, name=name,
                                                contact_email=f"ap@{cid[:8]}.example"))
        wait_until(lambda: api.get(f"/customers/{cid}/status").status_code == 200, what="ledger")
    return cid, created["subscriptions"][0]["id"]


def _letters(api: httpx.Client, marker: str, status: str = "waiting") -> list[dict[str, Any]]:
    r = api.get("/dead-letters", params={"status": status})
    r.raise_for_status()
    return [d for d in r.json()["items"] if marker in d["body"]]


def _history(stack: CollectionsStack, cid: str) -> list[dict[str, Any]]:
    with stack.api() as api:
        return api.get(f"/customers/{cid}/status").json()["history"]  # type: ignore[no-any-return]


def _suspend_request(cid: str, key: str, **fields: Any) -> EnforcementRequest:
    scope = {} if "subscription_ids" in fields else {"scope": {"kind": "all"}}  # a suspension names its scope
    return EnforcementRequest(**{"action": "suspend", "customer_id": cid, "reason": "nonpayment", "key": key,
                                 "detail": "test", "requested_at": datetime.now(UTC), **scope, **fields})


def test_an_undecodable_payment_is_listed_and_blocks_the_payers_suspension(stack: CollectionsStack) -> None:
    cid, _ = _customer(stack, "Plain Text Payer Co")
    payment = _event("payment.received", cid.upper(), payment_id="P-1", amount="10.00", currency="CNY",
                     received_at=datetime.now(UTC).isoformat())
    _raw(stack, Queue.PAYMENT_EVENTS, _envelope(payment))  # plain JSON: the host cannot base64-decode it
    with stack.api() as api:
        letter = wait_until(lambda: _letters(api, payment["event_id"]), what="the poison message listed")[0]
    assert letter["origin"] == "poison" and letter["reason"].startswith("undecodable")
    assert letter["customer_id"] == cid and letter["kind"] == "payment.received"
    producer = QueueProducer.from_connection_string(stack.azurite.connection_string)
    producer.send(Queue.ENFORCEMENT, _suspend_request(cid, f"{cid}:susp-1").envelope())
    blocked = wait_until(lambda: [e for e in _history(stack, cid) if e["action"] == "suspend"], what="attempt")
    assert blocked[0]["outcome"] == "blocked" and "dead-letter store" in blocked[0]["evidence"]["detail"]

    with stack.api() as api:  # discarding needs an actor and a reason, happens once, and is audited
        url = f"/dead-letters/payment-events/{letter['id']}/discard"
        assert api.post(url, json={"reason": "sent again"}, headers={"x-actor": ""}).status_code == 401
        assert api.post(url, json={"reason": "sent again", "extra": 1}).status_code == 400
        r = api.post(url, json={"reason": "the bank re-sent it properly"})
        assert r.status_code == 200 and r.json()["status"] == "discarded"
        assert r.json()["discarded_by"] == "operator:ops@partner.example"
        assert api.post(url, json={"reason": "again"}).status_code == 409
    assert any(e["action"] == "deadletter.discarded" for e in _history(stack, cid))
    producer.send(Queue.ENFORCEMENT, _suspend_request(cid, f"{cid}:susp-2").envelope())
    second = wait_until(lambda: [e for e in _history(stack, cid) if e["action"] == "suspend"
                                 and e["evidence"]["key"].endswith("susp-2")], what="second attempt")
    assert second[0]["outcome"] == "skipped"  # no longer blocked; not due on fresh data either


def test_a_message_naming_no_customer_blocks_nothing_and_alerts_the_team(stack: CollectionsStack) -> None:
    marker = uuid.uuid4().hex
    _raw(stack, Queue.PAYMENT_EVENTS, f"%%% {marker} not base64, no customer %%%")
    with stack.api() as api:
        letter = wait_until(lambda: _letters(api, marker), what="listed")[0]
    assert letter["customer_id"] is None
    def alert() -> list[Any]:
        return [m for m in stack.mailbox.messages() if letter["id"] in m.as_string()]

    mail = wait_until(alert, what="the team alert", timeout=40)
    assert "could not be processed" in str(mail[0]["Subject"])
    assert "collections@partner.example" in str(mail[0]["To"])


def test_replay_names_its_actor_is_validated_audited_and_happens_once(stack: CollectionsStack) -> None:
    cid, _ = _customer(stack, "Replayed Invoice Co")
    today = date.today()
    bad = _event("invoice.issued", cid, invoice_id="INV-R", amount="-5.00", currency="CNY",
                 issue_date=today.isoformat(), due_date=(today + timedelta(days=30)).isoformat())
    QueueClient.from_connection_string(stack.azurite.connection_string, "payment-events").send_message(
        base64.b64encode(_envelope(bad).encode()).decode())
    with stack.api() as api:
        letter = wait_until(lambda: _letters(api, bad["event_id"]), what="parked")[0]
        url = f"/dead-letters/payment-events/{letter['id']}/replay"
        fixed = {**bad, "amount": "5.00"}
        assert api.post(url, json={"body": _envelope(fixed)}, headers={"x-actor": ""}).status_code == 401
        assert "amount" in api.post(url).json()["error"]  # as stored: still invalid, refused like a fresh message
        other = {**fixed, "customer_id": "0f8fad5b-d9cb-469f-a165-70867728950e"}
        assert "customer" in api.post(url, json={"body": _envelope(other)}).json()["error"]
        renamed = {**fixed, "type": "invoice.credited"}
        assert api.post(url, json={"body": _envelope(renamed)}).status_code == 400
        r = api.post(url, json={"body": _envelope(fixed)})
        assert r.status_code == 200, r.text
        kept = r.json()
        assert kept["status"] == "replayed" and kept["replayed_by"] == "operator:ops@partner.example"
        assert kept["body"] == letter["body"] and json.loads(kept["replay_body"])["payload"]["amount"] == "5.00"
        assert api.post(url, json={"body": _envelope(fixed)}).status_code == 409  # once
        wait_until(lambda: api.get(f"/customers/{cid}/status").json()["invoices"], what="invoice applied")
    audit = [e for e in _history(stack, cid) if e["action"] == "deadletter.replayed"]
    assert audit and audit[0]["actor"] == "operator:ops@partner.example"
    assert audit[0]["evidence"]["original"] == letter["body"] and '"5.00"' in audit[0]["evidence"]["corrected"]


def test_a_junk_enforcement_message_cannot_be_replayed_into_a_suspension(stack: CollectionsStack) -> None:
    cid, sub = _customer(stack, "Crafted Envelope Co")
    marker = uuid.uuid4().hex
    junk = json.dumps({"schema_version": 1, "kind": "enforcement.action", "idempotency_key": marker,
                       "payload": {"customer_id": cid, "action": "suspend"}})
    QueueClient.from_connection_string(stack.azurite.connection_string, "enforcement-actions").send_message(
        base64.b64encode(junk.encode()).decode())
    crafted = _suspend_request(cid, marker, reason="manual", actor="operator:someone-else",
                               subscription_ids=(sub,)).envelope().model_dump_json()
    with stack.api() as api:
        letter = wait_until(lambda: _letters(api, marker), what="parked")[0]
        r = api.post(f"/dead-letters/enforcement-actions/{letter['id']}/replay", json={"body": crafted})
        assert r.status_code == 400 and "never replayed" in r.json()["error"]
    time.sleep(2)
    assert subscription_status(stack, cid)[sub] == "active"


def test_a_big_bad_message_is_kept_whole(stack: CollectionsStack) -> None:
    marker = uuid.uuid4().hex
    body = json.dumps({"schema_version": 1, "kind": "invoice.issued", "idempotency_key": marker,
                       "payload": {"note": marker + "x" * 40_000}})
    QueueClient.from_connection_string(stack.azurite.connection_string, "payment-events").send_message(
        base64.b64encode(body.encode()).decode())
    with stack.api() as api:
        letter = wait_until(lambda: _letters(api, marker), what="kept")[0]
    assert letter["body"] == body and letter["size"] > 40_000


def test_a_redelivery_takes_over_a_dead_attempts_claim_and_finishes_its_follow_ups(stack: CollectionsStack) -> None:
    """The first attempt recorded and suspended, then died: the redelivery audits it as done (not "skipped")."""
    cid, sub = _customer(stack, "Crashed Worker Co")
    key = f"manual:{cid}:crash-1"
    request = EnforcementRequest(action="suspend", customer_id=cid, reason="manual", key=key, detail="abuse",
                                 actor="operator:test", subscription_ids=(sub,), requested_at=datetime.now(UTC))
    tables = TableServiceClient.from_connection_string(stack.azurite.connection_string)
    Stores(AzureTables(tables)).suspensions.upsert(cid, sub, SuspensionRecord(
        customer_id=cid, subscription_id=sub, reason="manual", detail="abuse", action_key=key,
        suspended_at=datetime.now(UTC), suspended_by="operator:test"))
    with stack.sandbox_admin() as admin:  # what the dead attempt's PATCH did
        admin.patch(f"/_sandbox/subscriptions/{sub}", json={"status": "suspended"}).raise_for_status()
    stale = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    tables.create_table_if_not_exists("idempotency")
    tables.get_table_client("idempotency").upsert_entity({
        "PartitionKey": "enforcement", "RowKey": key, "Status": "in_progress", "ExpiresAt": stale, "Result": "",
        "Key": key, "Owner": "dead", "Plan": json.dumps({"recorded": []})})
    QueueProducer.from_connection_string(stack.azurite.connection_string).send(Queue.ENFORCEMENT, request.envelope())
    done = wait_until(lambda: [e for e in _history(stack, cid) if e["action"] == "suspend"], what="audited")
    assert done[0]["outcome"] == "done" and done[0]["evidence"]["changed"] == [sub]
    assert "previous attempt died" in done[0]["evidence"]["detail"]


def test_a_claim_held_by_a_live_attempt_defers_the_message_instead_of_poisoning_it(stack: CollectionsStack) -> None:
    cid, sub = _customer(stack, "Busy Claim Co")
    key = f"manual:{cid}:busy-1"
    tables = TableServiceClient.from_connection_string(stack.azurite.connection_string)
    tables.create_table_if_not_exists("idempotency")
    tables.get_table_client("idempotency").upsert_entity({  # held, going stale in 6 s (host retries: 5 x 10 s)
        "PartitionKey": "enforcement", "RowKey": key, "Status": "in_progress", "Result": "", "Key": key,
        "ExpiresAt": (datetime.now(UTC) + timedelta(seconds=6)).isoformat(), "Owner": "alive"})
    request = EnforcementRequest(action="suspend", customer_id=cid, reason="manual", key=key, detail="abuse",
                                 actor="operator:test", subscription_ids=(sub,), requested_at=datetime.now(UTC))
    QueueProducer.from_connection_string(stack.azurite.connection_string).send(Queue.ENFORCEMENT, request.envelope())
    wait_until(lambda: subscription_status(stack, cid)[sub] == "suspended", what="done after the claim went stale",
               timeout=40)
    done = wait_until(lambda: [e for e in _history(stack, cid) if e["action"] == "suspend"], what="audited")
    assert done[0]["outcome"] == "done"


def test_notices_wait_for_the_relay_and_are_delivered_when_it_is_back(stack: CollectionsStack) -> None:
    cid, _ = _customer(stack, "Relay Outage Co")
    stack.mailbox.stop()  # SMTP down
    notice = CollectionsNotice(customer_id=cid, key=f"{cid}:reactivated:outage", stage_id="reactivation",
                               template="reactivated", reason="paid")
    QueueProducer.from_connection_string(stack.azurite.connection_string).send(Queue.NOTIFICATIONS,
                                                                                notice.envelope())
    time.sleep(6)  # the first attempt failed and was deferred, not poisoned
    stack.mailbox.start()
    def mails() -> list[Any]:
        return [m for m in stack.mailbox.messages() if cid[:8] in str(m["To"])]

    assert len(wait_until(mails, what="the notice after the relay is back", timeout=60)) == 1
    with stack.api() as api:
        assert not [d for d in api.get("/dead-letters", params={"queue": "notifications"}).json()["items"]
                    if notice.key in d["body"]]


def test_a_redelivery_after_a_crash_between_result_and_follow_ups_finishes_them_once(
        stack: CollectionsStack) -> None:
    """The first attempt suspended and recorded its result, then died before the audit: the redelivery audits it."""
    cid, sub = _customer(stack, "Late Audit Co")
    key = f"manual:{cid}:late-1"
    tables = TableServiceClient.from_connection_string(stack.azurite.connection_string)
    Stores(AzureTables(tables)).suspensions.upsert(cid, sub, SuspensionRecord(
        customer_id=cid, subscription_id=sub, reason="manual", detail="abuse", action_key=key,
        suspended_at=datetime.now(UTC), suspended_by="operator:test"))
    with stack.sandbox_admin() as admin:
        admin.patch(f"/_sandbox/subscriptions/{sub}", json={"status": "suspended"}).raise_for_status()
    result = {"key": key, "status": "done", "detail": "abuse", "changed": [sub], "failed": {},
              "lifted_nonpayment": False}
    tables.create_table_if_not_exists("idempotency")
    tables.get_table_client("idempotency").upsert_entity({
        "PartitionKey": "enforcement", "RowKey": key, "Status": "completed", "Result": json.dumps(result),
        "Key": key, "Owner": "dead", "ExpiresAt": datetime.now(UTC).isoformat(),
        "CompletedAt": datetime.now(UTC).isoformat()})
    request = EnforcementRequest(action="suspend", customer_id=cid, reason="manual", key=key, detail="abuse",
                                 actor="operator:test", subscription_ids=(sub,), requested_at=datetime.now(UTC))
    producer = QueueProducer.from_connection_string(stack.azurite.connection_string)
    producer.send(Queue.ENFORCEMENT, request.envelope())
    done = wait_until(lambda: [e for e in _history(stack, cid) if e["action"] == "suspend"], what="audited")
    assert done[0]["outcome"] == "done" and done[0]["evidence"]["changed"] == [sub]
    producer.send(Queue.ENFORCEMENT, request.envelope())  # a later duplicate: nothing more
    time.sleep(4)
    assert len([e for e in _history(stack, cid) if e["action"] == "suspend"]) == 1


def test_a_reactivation_taken_over_counts_what_the_dead_attempt_reactivated(stack: CollectionsStack) -> None:
    """The dead attempt reactivated the subscription and removed csp-guard's record, then died before the audit."""
    cid, sub = _customer(stack, "Half Reactivated Co")
    key = f"manual:{cid}:re-crash"
    tables = TableServiceClient.from_connection_string(stack.azurite.connection_string)
    tables.create_table_if_not_exists("idempotency")
    tables.get_table_client("idempotency").upsert_entity({  # what it noted before working: sub was recorded
        "PartitionKey": "enforcement", "RowKey": key, "Status": "in_progress", "Result": "", "Key": key,
        "ExpiresAt": (datetime.now(UTC) - timedelta(seconds=5)).isoformat(), "Owner": "dead",
        "Plan": json.dumps({"recorded": [sub]})})
    request = EnforcementRequest(action="reactivate", customer_id=cid, reason="manual", key=key, detail="closed",
                                 actor="operator:test", subscription_ids=(sub,), requested_at=datetime.now(UTC))
    QueueProducer.from_connection_string(stack.azurite.connection_string).send(Queue.ENFORCEMENT, request.envelope())
    done = wait_until(lambda: [e for e in _history(stack, cid) if e["action"] == "reactivate"], what="audited")
    assert done[0]["outcome"] == "done" and done[0]["evidence"]["changed"] == [sub]
    assert subscription_status(stack, cid)[sub] == "active"


def test_lifting_a_suspension_whose_attempt_died_unaudited_records_that_suspension(stack: CollectionsStack) -> None:
    cid, sub = _customer(stack, "Unaudited Suspension Co")
    dead_key = f"manual:{cid}:dead-1"
    tables = TableServiceClient.from_connection_string(stack.azurite.connection_string)
    Stores(AzureTables(tables)).suspensions.upsert(cid, sub, SuspensionRecord(
        customer_id=cid, subscription_id=sub, reason="manual", detail="abuse", action_key=dead_key,
        suspended_at=datetime.now(UTC), suspended_by="operator:alice"))
    with stack.sandbox_admin() as admin:  # its PATCH went through, then the worker died
        admin.patch(f"/_sandbox/subscriptions/{sub}", json={"status": "suspended"}).raise_for_status()
    tables.create_table_if_not_exists("idempotency")
    tables.get_table_client("idempotency").upsert_entity({
        "PartitionKey": "enforcement", "RowKey": dead_key, "Status": "in_progress", "Result": "", "Key": dead_key,
        "ExpiresAt": (datetime.now(UTC) + timedelta(seconds=90)).isoformat(), "Owner": "dead"})
    lift = EnforcementRequest(action="reactivate", customer_id=cid, reason="manual", key=f"manual:{cid}:lift-1",
                              detail="closed", actor="operator:bob", subscription_ids=(sub,),
                              requested_at=datetime.now(UTC))
    QueueProducer.from_connection_string(stack.azurite.connection_string).send(Queue.ENFORCEMENT, lift.envelope())
    wait_until(lambda: subscription_status(stack, cid)[sub] == "active", what="reactivated")
    history = wait_until(lambda: (lambda h: h if len(h) == 2 else None)(
        [e for e in _history(stack, cid) if e["action"] in ("suspend", "reactivate")]), what="both audited")
    suspend = next(e for e in history if e["action"] == "suspend")
    assert suspend["actor"] == "operator:alice" and suspend["evidence"]["changed"] == [sub]
    assert "died before its audit" in suspend["evidence"]["detail"]
