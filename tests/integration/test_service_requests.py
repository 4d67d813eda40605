"""The 21Vianet service request against Azurite, the Partner Center sandbox and the SMTP mailbox: the worker waits
for Partner Center's containment outcome, the pack states that outcome (never "suspended" when nothing was), the
portal channel tells the team, tickets are recorded with the actor, and e-mail stays an optional channel."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.storage.queue import QueueClient

from devtools.azurite import Azurite
from devtools.mailbox import Mailbox
from devtools.sandbox import Sandbox, SandboxConfig
from shared.context import AppContext
from shared.fraud.cases import Containment, ContainmentStatus
from shared.messaging import Queue
from shared.messaging.envelope import decode_envelope
from shared.services.fraud import (
    CaseConflict,
    FraudScanItem,
    FraudStores,
    ServiceRequestMessage,
    assess_shard,
    deliver_service_request,
    raise_service_request,
    record_ticket,
    start_scan,
    stream,
    track_update,
)
from shared.settings import load_settings
from tests.e2e_collections.conftest import CollectionsStack, stack_settings
from tests.e2e_fraud.conftest import customer_with_history, inject_gpu_spike

pytestmark = pytest.mark.integration
RULES = Path(__file__).parents[1] / "e2e_fraud" / "rules-contain.yaml"
SUPPORT = "support@21vianet.example"
TEAM = "collections@partner.example"


@pytest.fixture(scope="module")
def world(azurite: Azurite) -> Iterator[tuple[CollectionsStack, dict[str, str]]]:
    sandbox = Sandbox(SandboxConfig(seed=7, customers=2, misuse_share=0, lookalike_share=0)).start()
    mailbox = Mailbox(port=0).start()
    values = stack_settings(azurite, sandbox, mailbox, CSPGUARD_FRAUD_RULES_FILE=str(RULES),
                            CSPGUARD_SUPPORT_ADDRESS=SUPPORT, CSPGUARD_SERVICE_REQUEST_RETRY_SECONDS="1",
                            CSPGUARD_SERVICE_REQUEST_MAX_WAIT_MINUTES="30")
    try:
        yield CollectionsStack(None, sandbox, mailbox, azurite, values), values  # type: ignore[arg-type]
    finally:
        mailbox.stop()
        sandbox.stop()


def _drain(conn: str, queue: Queue) -> list[dict[str, Any]]:
    import contextlib

    from azure.core.exceptions import ResourceExistsError

    client = QueueClient.from_connection_string(conn, queue.value)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    out = []
    for m in client.receive_messages(messages_per_page=32, max_messages=500, visibility_timeout=1):
        out.append(decode_envelope(base64.b64decode(m.content)).model_dump())
        client.delete_message(m)
    return out


async def _open_contained_case(stack: CollectionsStack, ctx: AppContext, name: str) -> tuple[str, str]:
    """A GPU spike scanned into a case whose containment was requested (the rules need no approval), and the
    service request raised by an operator before the containment's outcome is known."""
    cid, plan = customer_with_history(stack, name)
    inject_gpu_spike(stack, cid, plan)
    conn = stack.azurite.connection_string
    for q in (Queue.FRAUD_SCAN, Queue.ENFORCEMENT, Queue.SERVICE_REQUESTS):
        _drain(conn, q)
    start_scan(ctx, "test")
    await stream(ctx, FraudScanItem.model_validate(_drain(conn, Queue.FRAUD_SCAN)[0]["payload"]))
    for e in _drain(conn, Queue.FRAUD_SCAN):
        await assess_shard(ctx, FraudScanItem.model_validate(e["payload"]))
    # containment raises the request itself once the worker knows the outcome; an operator may raise it before
    # (POST .../service-request), which is when the worker has to wait for the outcome
    raise_service_request(ctx, cid, "operator:ops@partner.example")
    return cid, plan


def _set_containment(fs: FraudStores, cid: str, containment: Containment) -> None:
    """What the enforcement worker records from Partner Center's read-back (the Case.containment contract)."""
    fs.cases.update(cid, "current", lambda r: r.model_copy(update={"case": r.case.model_copy(
        update={"containment": containment})}) if r else None)


def _mail(stack: CollectionsStack, to: str, needle: str) -> list[Any]:
    return [m for m in stack.mailbox.messages() if to in str(m["To"]) and needle in str(m["Subject"])]


async def test_worker_waits_for_the_outcome_then_prepares_a_truthful_pack(
        world: tuple[CollectionsStack, dict[str, str]]) -> None:
    stack, values = world
    ctx = AppContext(load_settings(**values))
    fs = ctx.fraud
    cid, plan = await _open_contained_case(stack, ctx, "Waiting Pack Ltd")
    conn = stack.azurite.connection_string
    queued = _drain(conn, Queue.SERVICE_REQUESTS)
    assert len(queued) == 1
    msg = ServiceRequestMessage.model_validate(queued[0]["payload"])
    case_id = fs.current(cid).case.case_id  # type: ignore[union-attr]
    assert msg.case_id == case_id and fs.current(cid).service_request.channel == "portal"  # type: ignore[union-attr]

    # Partner Center has not confirmed the containment yet: nothing is prepared, the request waits
    now = datetime.now(UTC)
    _set_containment(fs, cid, Containment(status=ContainmentStatus.REQUESTED, targets=(f"{plan}/az-1",)))
    assert (await deliver_service_request(ctx, msg, now=now)).startswith("waiting")
    assert fs.current(cid).service_request.status == "awaiting_containment"  # type: ignore[union-attr]
    again = [ServiceRequestMessage.model_validate(e["payload"]) for e in _wait_for(conn, Queue.SERVICE_REQUESTS)]
    assert [m.waits for m in again] == [1] and again[0].case_id == case_id
    assert _mail(stack, TEAM, "File with 21Vianet") == []

    # the outcome is known (refused): the pack says exactly that, and the team is told to file it
    _set_containment(fs, cid, Containment(
        status=ContainmentStatus.FAILED, detail="900115: Azure plan has active Azure subscriptions",
        verified_at=now, targets=(f"{plan}/az-1",), failed=(f"{plan}/az-1",), attempts=1))
    assert await deliver_service_request(ctx, again[0], now=now + timedelta(seconds=5)) == "ready"
    sr = fs.current(cid).service_request  # type: ignore[union-attr]
    assert sr is not None and sr.status == "ready" and sr.pack_containment == "failed" and sr.ticket_number is None
    mail = _mail(stack, TEAM, "File with 21Vianet")
    assert len(mail) == 1 and "Waiting Pack Ltd" in str(mail[0]["Subject"])
    body = mail[0].get_body(("plain",)).get_content()
    assert "Containment failed: 900115: Azure plan has active Azure subscriptions" in body
    assert "遏制措施失败：900115" in body and "Support -> Customer requests -> New request" in body
    assert "We suspended" not in body and "We have suspended" not in body
    assert _mail(stack, SUPPORT, cid) == []  # the portal channel sends nothing to 21Vianet itself
    # a redelivery changes nothing and tells nobody twice
    assert await deliver_service_request(ctx, again[0], now=now + timedelta(seconds=9)) == "ready"
    assert len(_mail(stack, TEAM, "File with 21Vianet")) == 1

    # the operator files it in the portal and records the ticket, then its status; both audited with the actor
    with pytest.raises(CaseConflict):
        record_ticket(ctx, cid, "bad number with spaces", "operator:ops@partner.example")
    with pytest.raises(CaseConflict, match="ticket number first"):
        track_update(ctx, cid, "closed", "", "operator:ops@partner.example")
    sr = record_ticket(ctx, cid, "SR-2026120100042", "operator:ops@partner.example", "filed by phone too")
    assert sr.ticket_number == "SR-2026120100042" and sr.ticket_status == "open" and sr.status == "filed"
    assert sr.ticket_recorded_by == "operator:ops@partner.example"
    with pytest.raises(CaseConflict, match="status must be one of"):
        track_update(ctx, cid, "done", "", "operator:ops@partner.example")
    sr = track_update(ctx, cid, "closed", "21Vianet credited the usage", "operator:lead@partner.example")
    assert sr.ticket_status == "closed" and sr.status == "closed"
    audit = [e for e in ctx.audit.history(cid) if e.action.startswith("fraud.service_request.")]
    assert [(e.action, e.actor) for e in audit[:2]] == [
        ("fraud.service_request.status", "operator:lead@partner.example"),
        ("fraud.service_request.ticket", "operator:ops@partner.example")]
    texts = [e.text for e in fs.current(cid).case.timeline]  # type: ignore[union-attr]
    assert "service request filed with 21Vianet: ticket SR-2026120100042" in texts


async def test_after_the_longest_wait_the_pack_says_the_outcome_is_unknown(
        world: tuple[CollectionsStack, dict[str, str]]) -> None:
    stack, values = world
    ctx = AppContext(load_settings(**values))
    fs = ctx.fraud
    cid, plan = await _open_contained_case(stack, ctx, "Slow Outcome Ltd")
    msg = ServiceRequestMessage.model_validate(_drain(stack.azurite.connection_string,
                                                      Queue.SERVICE_REQUESTS)[0]["payload"])
    _set_containment(fs, cid, Containment(status=ContainmentStatus.REQUESTED, targets=(plan,)))
    late = msg.requested_at + timedelta(minutes=31)
    assert await deliver_service_request(ctx, msg, now=late) == "ready"
    assert fs.current(cid).service_request.pack_containment == "requested"  # type: ignore[union-attr]
    first = [m for m in _mail(stack, TEAM, "File with 21Vianet") if "Slow Outcome Ltd" in str(m["Subject"])]
    body = first[0].get_body(("plain",)).get_content()
    assert "Partner Center has not yet confirmed its outcome. Do not assume that anything is suspended." in body

    # it keeps watching: once Partner Center confirms, the pack is prepared again and the team told the outcome
    follow = [ServiceRequestMessage.model_validate(e["payload"])
              for e in _wait_for(stack.azurite.connection_string, Queue.SERVICE_REQUESTS)]
    assert len(follow) == 1 and follow[0].waits == 1
    _set_containment(fs, cid, Containment(status=ContainmentStatus.CONTAINED, verified_at=late, targets=(plan,),
                                          contained=(plan,)))
    assert await deliver_service_request(ctx, follow[0], now=late + timedelta(minutes=10)) == "ready"
    assert fs.current(cid).service_request.pack_containment == "contained"  # type: ignore[union-attr]
    mails = [m for m in _mail(stack, TEAM, "File with 21Vianet") if "Slow Outcome Ltd" in str(m["Subject"])]
    assert len(mails) == 2
    assert "verified by reading Partner Center back" in mails[-1].get_body(("plain",)).get_content()
    assert _wait_for(stack.azurite.connection_string, Queue.SERVICE_REQUESTS, timeout=1) == []  # no more follow-ups


async def test_email_channel_sends_the_verified_pack_to_21vianet_in_chinese(
        world: tuple[CollectionsStack, dict[str, str]]) -> None:
    stack, values = world
    ctx = AppContext(load_settings(**{**values, "CSPGUARD_SERVICE_REQUEST_CHANNEL": "email"}))
    fs = ctx.fraud
    cid, plan = await _open_contained_case(stack, ctx, "Mailed Pack Ltd")
    msg = ServiceRequestMessage.model_validate(_drain(stack.azurite.connection_string,
                                                      Queue.SERVICE_REQUESTS)[0]["payload"])
    now = datetime.now(UTC)
    _set_containment(fs, cid, Containment(status=ContainmentStatus.CONTAINED, verified_at=now,
                                          targets=(f"{plan}/az-9",), contained=(f"{plan}/az-9",)))
    assert await deliver_service_request(ctx, msg, now=now) == "sent"
    mail = _mail(stack, SUPPORT, cid)
    assert len(mail) == 1 and str(mail[0]["Subject"]).startswith("可疑活动报告")
    body = mail[0].get_body(("plain",)).get_content()
    assert f"Azure 订阅 az-9（属于 Azure 计划 {plan}）：已禁用（已取消）" in body and "Mailed Pack Ltd" in body
    sr = fs.current(cid).service_request  # type: ignore[union-attr]
    assert sr is not None and sr.status == "sent" and sr.channel == "email" and sr.reference == mail[0]["Message-ID"]
    assert await deliver_service_request(ctx, msg, now=now) == "duplicate"
    assert len(_mail(stack, SUPPORT, cid)) == 1


def _wait_for(conn: str, queue: Queue, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Messages sent with a visibility delay appear after it."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _drain(conn, queue)
        if found:
            return found
        time.sleep(0.5)
    return []


def test_a_ticket_goes_on_the_case_it_names(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> None:
    """An earlier (resolved, archived) case's ticket is recorded on that case, not on the customer's current one."""
    from typer.testing import CliRunner

    from cli.main import app
    from shared.context import reset_context
    from shared.fraud import Case, Outcome
    from shared.fraud.cases import CaseStatus
    from shared.services.fraud import CaseRecord
    from shared.services.fraud.store import ServiceRequestRecord

    ctx = AppContext(load_settings(AzureWebJobsStorage=azurite.connection_string))
    fs = ctx.fraud
    cid = f"c-{uuid.uuid4().hex[:10]}"
    t = datetime(2026, 11, 2, 8, tzinfo=UTC)

    def record(case_id: str, status: CaseStatus) -> CaseRecord:
        case = Case(case_id=case_id, customer_id=cid, status=status, outcome=Outcome.CONTAIN, requires_approval=False,
                    rules_version="t", opened_at=t, updated_at=t, first_signal_at=t)
        return CaseRecord(case=case, service_request=ServiceRequestRecord(requested_at=t, requested_by="csp-guard",
                                                                          status="ready", channel="portal"))

    old, new = f"fraud-{cid}-20261102T080000", f"fraud-{cid}-20261120T080000"
    fs.cases.upsert(cid, old, record(old, CaseStatus.RESOLVED_FRAUD))
    fs.cases.upsert(cid, "current", record(new, CaseStatus.INVESTIGATING))
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    reset_context()
    try:
        result = CliRunner().invoke(app, ["fraud", "ticket", old, "SR-OLD-1", "--actor", "ops"])
        assert result.exit_code == 0, result.output
        assert "ticket SR-OLD-1 recorded (status open) by operator:ops" in result.output
        closed = CliRunner().invoke(app, ["fraud", "ticket-status", old, "closed", "--actor", "ops"])
        assert closed.exit_code == 0, closed.output
        missing = CliRunner().invoke(app, ["fraud", "ticket-status", cid, "closed", "--actor", "ops"])
        assert missing.exit_code == 1 and "ticket number first" in missing.output
    finally:
        reset_context()
    archived, current = fs.cases.get(cid, old), fs.current(cid)
    assert archived is not None and archived.service_request is not None and current is not None
    assert (archived.service_request.ticket_number, archived.service_request.ticket_status) == ("SR-OLD-1", "closed")
    assert current.service_request is not None and current.service_request.ticket_number is None
