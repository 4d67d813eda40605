"""Fraud services against Azurite, the Partner Center sandbox and the SMTP mailbox, without the runner:
approval before containment, fan-out of a large scan into shards, and the backtest CLI over stored history."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.queue import QueueClient
from typer.testing import CliRunner

from devtools.azurite import Azurite
from devtools.mailbox import Mailbox
from devtools.sandbox import Sandbox, SandboxConfig
from shared.context import AppContext
from shared.messaging import Queue
from shared.messaging.envelope import decode_envelope
from shared.services.fraud import FraudScanItem, assess_shard, contain, start_scan, stream
from shared.services.messages import EnforcementRequest
from shared.settings import load_settings
from tests.e2e_collections.conftest import CollectionsStack, stack_settings
from tests.e2e_fraud.conftest import azure_subscriptions, customer_with_history, inject_gpu_spike

pytestmark = pytest.mark.integration
HERE = Path(__file__).parent
APPROVAL_RULES = """
version: "it-approval-1"
default_segment: standard
rules:
  - id: risky-meter.contain
    detector: risky_meter
    outcome: contain
    requires_approval: true
    params: {patterns: ["*gpu*"], min_history_days: 7, min_ratio: 3, min_amount: 200}
"""


@pytest.fixture(scope="module")
def world(azurite: Azurite,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CollectionsStack, dict[str, str]]]:
    rules = tmp_path_factory.mktemp("rules") / "rules.yaml"
    rules.write_text(APPROVAL_RULES)
    sandbox = Sandbox(SandboxConfig(seed=5, customers=5, misuse_share=0, lookalike_share=0)).start()
    mailbox = Mailbox(port=0).start()
    values = stack_settings(azurite, sandbox, mailbox, CSPGUARD_FRAUD_RULES_FILE=str(rules),
                            CSPGUARD_SWEEP_SHARD_SIZE="2")
    try:
        yield CollectionsStack(None, sandbox, mailbox, azurite, values), values  # type: ignore[arg-type]
    finally:
        mailbox.stop()
        sandbox.stop()


def _drain(conn: str, queue: Queue) -> list[dict]:  # type: ignore[type-arg]
    import contextlib

    from azure.core.exceptions import ResourceExistsError

    client = QueueClient.from_connection_string(conn, queue.value)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    out = []
    for m in client.receive_messages(messages_per_page=32, max_messages=500):
        out.append(decode_envelope(base64.b64decode(m.content)).model_dump())
        client.delete_message(m)
    return out


async def test_scan_fans_out_and_containment_waits_for_approval(world: tuple[CollectionsStack, dict[str, str]]) -> None:
    stack, values = world
    ctx = AppContext(load_settings(**values))
    cid, plan = customer_with_history(stack, "Needs Approval Ltd")
    inject_gpu_spike(stack, cid, plan)
    running = azure_subscriptions(stack, cid, plan)[0]  # the active Azure subscription that ran the GPUs
    conn = stack.azurite.connection_string
    _drain(conn, Queue.FRAUD_SCAN), _drain(conn, Queue.ENFORCEMENT), _drain(conn, Queue.SERVICE_REQUESTS)

    run = start_scan(ctx, "test")
    item = FraudScanItem.model_validate(_drain(conn, Queue.FRAUD_SCAN)[0]["payload"])
    run = await stream(ctx, item)
    assert run.status == "assessing" and run.customers >= 6 and run.shards == -(-run.customers // 2)
    shards = [FraudScanItem.model_validate(e["payload"]) for e in _drain(conn, Queue.FRAUD_SCAN)]
    assert sorted(s.shard for s in shards) == list(range(run.shards))
    assert sorted(c for s in shards for c in s.customer_ids) == sorted(set(c for s in shards for c in s.customer_ids))
    for shard in shards:
        run = await assess_shard(ctx, shard)
    assert run.status == "completed" and run.shards_done == run.shards
    assert run.cases_opened == 1 and run.pending_approvals == 1 and run.containments == 0

    fs = ctx.fraud
    rec = fs.current(cid)
    assert rec is not None and rec.pending is not None and rec.pending.subscription_ids == (f"{plan}/{running}",)
    assert _drain(conn, Queue.ENFORCEMENT) == []  # nothing suspended before a person approves
    assert rec.alerts  # the team was told (e-mail to the collections contact)
    assert any("Possible fraud" in str(m["Subject"]) for m in stack.mailbox.messages())

    approved = await contain(ctx, cid, "operator:ops@partner.example")
    assert approved.pending is not None and approved.pending.status == "approved"
    sent = _drain(conn, Queue.ENFORCEMENT)
    request = EnforcementRequest.model_validate(sent[0]["payload"])
    assert request.reason == "fraud" and request.case_id == rec.case.case_id
    assert request.subscription_ids == () and [(t.plan_subscription_id, t.entitlement_id)
                                               for t in request.entitlements] == [(plan, running)]
    assert request.actor == "operator:ops@partner.example"
    assert approved.case.containment.status == "requested"  # not contained until the worker verified it
    assert _drain(conn, Queue.SERVICE_REQUESTS) == []  # written once the containment outcome is known
    with pytest.raises(Exception, match="nothing active left"):
        await contain(ctx, cid, "operator:ops@partner.example")


def test_backtest_cli_replays_stored_history(world: tuple[CollectionsStack, dict[str, str]],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import app

    _, values = world
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    result = CliRunner().invoke(app, ["fraud", "backtest", "--json"])
    assert result.exit_code == 0, result.output
    assert '"risky-meter.contain"' in result.output
    bad = CliRunner().invoke(app, ["fraud", "backtest", "--from", "2026-13-01"])
    assert bad.exit_code == 2
