"""Fraud (functions/fraud.py: start_scan -> fraud-scan stream/assess -> case -> containment on the enforcement
queue -> service request): a GPU spike in the sandbox's usage opens a case, exactly that Azure subscription is
disabled, the 21Vianet service request carries the evidence; with approval required, nothing is touched until a
second person approves (functions/fraud.py fraud_contain -> casework.contain)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.messaging import Queue
from shared.services.errors import ForbiddenError
from shared.services.fraud import contain, resolve_case, start_scan
from shared.services.fraud.srpack import evidence_document
from tests.functional.conftest import HERE, SUPPORT, TEAM, World

pytestmark = pytest.mark.functional


def _customer_with_history(world: World, name: str) -> tuple[str, str, list[str]]:
    """An Azure plan with a month of ordinary VM usage on its first (active) Azure subscription and a disabled
    second one, and an Office licence."""
    cid, (plan, _) = world.customer(name, {"kind": "azure_plan", "friendly_name": "Azure plan",
                                           "daily_usage_units": 1.0, "entitlements": ["active", "disabled"]},
                                    {"kind": "license", "friendly_name": "Office 365 E3"})
    return cid, plan, list(world.azure(cid))


def _gpu_spike(world: World, customer_id: str, plan: str, entitlement: str, amount: float = 3000.0) -> None:
    """Yesterday the Azure subscription ran GPU VMs it never ran before."""
    day = (world.today() - timedelta(days=1)).isoformat()
    item: dict[str, Any] = {"customerId": customer_id, "subscriptionId": plan, "entitlementId": entitlement,
                            "entitlementDescription": "Azure subscription", "usageDate": f"{day}T00:00:00Z",
                            "meterCategory": "Virtual Machines", "meterSubCategory": "NCads A100 v4 Series GPU",
                            "meterName": "NC24ads A100 v4", "meterId": "gpu-a100", "resourceLocation": "ChinaNorth3",
                            "quantity": 100, "unitPrice": amount / 100}
    world.add_usage(item)


async def test_misuse_opens_a_case_contains_exactly_that_azure_subscription_and_files_the_evidence(
        world: World) -> None:
    calm, _, calm_ents = _customer_with_history(world, "Calm Compute Ltd")
    _customer_with_history(world, "Quiet Analytics Co")  # three customers: two assess shards of two
    cid, plan, (running, idle) = _customer_with_history(world, "GPU Spike Ltd")
    _gpu_spike(world, cid, plan, running)

    scan = start_scan(world.ctx, requested_by="operator:ops@partner.example")
    await world.host.run(Queue.FRAUD_SCAN)
    stages = [r.status for q, _, r in world.host.delivered if q == Queue.FRAUD_SCAN]
    assert len(stages) == 3  # the stream item, then each shard as its own message (fraud_scan_work)
    run = world.ctx.fraud.runs.get(scan.run_id, "fraudscan")
    assert run is not None and run.status == "completed" and run.shards == 2 and run.customers == 3
    assert run.cases_opened == 1 and run.containments == 1 and run.lines > 0
    rec = world.ctx.fraud.current(cid)
    assert rec is not None and "risky-meter.contain" in [h.rule_id for h in rec.case.hits]
    assert world.ctx.fraud.current(calm) is None
    label = f"{plan}/{running}"
    assert list(rec.case.containment.targets) == [label]
    assert world.azure(cid) == {running: "active", idle: "disabled"}  # requested, not yet done

    await world.host.run(Queue.ENFORCEMENT)  # the worker disables it and reads it back
    assert world.azure(cid) == {running: "disabled", idle: "disabled"}
    assert set(world.subscriptions(cid).values()) == {"active"}  # the plan and the licence stay
    assert world.azure(calm)[calm_ents[0]] == "active"
    [record] = world.ctx.stores.suspended_by_us(cid)
    assert (record.label, record.reason, record.case_id) == (label, "fraud", rec.case.case_id)
    contained = world.ctx.fraud.current(cid)
    assert contained is not None and contained.case.containment.status == "contained"
    assert list(contained.case.containment.contained) == [label] and contained.case.containment.verified_at
    suspend = world.audit(cid, "suspend")[0]
    assert suspend.outcome == "done" and suspend.evidence["changed"] == [label]
    alert = [m for m in world.mail_to(TEAM) if "Possible fraud" in str(m["Subject"])]
    assert alert and running in alert[0].get_body(("plain",)).get_content()

    # the service request: queued once the containment is verified, e-mailed to 21Vianet with the evidence
    assert world.ctx.queues.kinds(Queue.SERVICE_REQUESTS) == ["fraud.service_request"]
    await world.host.run(Queue.SERVICE_REQUESTS, Queue.NOTIFICATIONS)
    [mail] = [m for m in world.mail_to(SUPPORT) if cid in str(m["Subject"])]
    body = mail.get_body(("plain",)).get_content()
    assert "risky-meter.contain" in body and plan in body and "GPU Spike Ltd" in body
    tracked = world.ctx.fraud.current(cid)
    assert tracked is not None and tracked.service_request is not None
    assert tracked.service_request.status == "sent" and tracked.service_request.reference == mail["Message-ID"]
    doc = await evidence_document(world.ctx, tracked, world.clock.now())
    assert doc.containment_status == "contained" and running in doc.as_text(("en",))

    # a second scan over the same usage opens no second case and contains nothing again
    again = start_scan(world.ctx)
    await world.host.run()
    second = world.ctx.fraud.runs.get(again.run_id, "fraudscan")
    assert second is not None and second.cases_opened == 0 and second.containments == 0
    assert len([m for m in world.mail_to(SUPPORT) if cid in str(m["Subject"])]) == 1

    # a payment never lifts a fraud containment
    await world.host.deliver(Queue.PAYMENT_EVENTS, world.event(
        "payment.received", cid, payment_id="PAY-F1", amount="5000.00", currency="CNY",
        received_at=world.clock.now().isoformat()))
    await world.host.run()
    assert world.azure(cid)[running] == "disabled"

    # resolved as legitimate (functions/fraud.py fraud_resolve): exactly that Azure subscription comes back
    closed, request = resolve_case(world.ctx, cid, "legitimate", "operator:lead@partner.example",
                                   "customer confirmed the training run", suppress_days=30)
    assert request is not None and [t.entitlement_id for t in request.entitlements] == [running]
    assert not closed.case.is_open
    await world.host.run(Queue.ENFORCEMENT)
    assert world.azure(cid) == {running: "active", idle: "disabled"}
    assert world.ctx.stores.suspended_by_us(cid) == []
    [lifted] = [e for e in world.audit(cid, "reactivate") if e.outcome == "done"]
    assert lifted.actor == "operator:lead@partner.example" and lifted.evidence["changed"] == [label]


async def test_containment_that_requires_approval_waits_for_a_second_person(world: World) -> None:
    rules = world.tmp / "rules-approval.yaml"
    rules.write_text((HERE.parent / "e2e_fraud" / "rules-contain.yaml").read_text(encoding="utf-8").replace(
        "requires_approval: false", "requires_approval: true"), encoding="utf-8")
    world.reconfigure(CSPGUARD_FRAUD_RULES_FILE=str(rules))
    cid, plan, (running, idle) = _customer_with_history(world, "Needs Approval Ltd")
    _gpu_spike(world, cid, plan, running)

    start_scan(world.ctx, requested_by="operator:ops@partner.example")
    await world.host.run()
    rec = world.ctx.fraud.current(cid)
    assert rec is not None and rec.pending is not None and rec.pending.status == "pending"
    assert list(rec.pending.subscription_ids) == [f"{plan}/{running}"]
    assert world.azure(cid) == {running: "active", idle: "disabled"}  # nothing touched while it waits
    assert world.ctx.stores.suspended_by_us(cid) == [] and not world.audit(cid, "suspend")

    with pytest.raises(ForbiddenError, match="four eyes"):  # who started the scan cannot approve it
        await contain(world.ctx, cid, "operator:ops@partner.example")
    approved = await contain(world.ctx, cid, "operator:approver@partner.example", note="checked")
    assert approved.pending is not None and approved.pending.status == "approved"
    await world.host.run(Queue.ENFORCEMENT)
    assert world.azure(cid) == {running: "disabled", idle: "disabled"}
    [entry] = world.audit(cid, "suspend")
    assert entry.actor == "operator:approver@partner.example" and entry.outcome == "done"
