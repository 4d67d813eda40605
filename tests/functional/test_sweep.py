"""The sweep (functions/collections.py: start_sweep -> shard messages -> process_shard -> finalize): only the
overdue customer whose notice period has passed is planned for suspension; a run that would suspend more than
CSPGUARD_MAX_SUSPENSIONS_PER_RUN halts, asks a person and enforces nothing until approved."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.messaging import Queue
from shared.services.messages import EnforcementRequest
from shared.services.sweep import decide_run
from tests.functional.conftest import TEAM, World

pytestmark = pytest.mark.functional


async def _paying(world: World, name: str) -> str:
    """A customer whose invoice was paid in full before it fell due."""
    cid, _ = world.customer(name, {"kind": "azure_plan", "entitlements": ["active"]})
    today = world.today()
    for envelope in (
        world.event("customer.updated", cid, name=name, contact_email=f"ap@{cid[:8]}.example"),
        world.event("invoice.issued", cid, invoice_id=f"INV-{cid[:6]}", amount="800.00", currency="CNY",
                    issue_date=(today - timedelta(days=60)).isoformat(),
                    due_date=(today - timedelta(days=30)).isoformat()),
        world.event("payment.received", cid, payment_id=f"P-{cid[:6]}", amount="800.00", currency="CNY",
                    received_at=(world.clock.now() - timedelta(days=35)).isoformat()),
    ):
        await world.host.deliver(Queue.PAYMENT_EVENTS, envelope)
    return cid


def _planned(world: World) -> list[EnforcementRequest]:
    return [EnforcementRequest.model_validate(e.payload) for e in world.ctx.queues.take(Queue.ENFORCEMENT)]


async def test_sweep_shards_and_finalize_plan_suspension_only_for_the_overdue_customer(world: World) -> None:
    overdue, _ = await world.overdue_customer("Overdue One Ltd")
    paying = [await _paying(world, f"Paying {i} Ltd") for i in range(3)]

    # the notice is younger than the policy's 7 days: nothing is planned yet
    run = await world.sweep()
    assert run.status == "completed" and run.planned_suspensions == 0
    assert not world.ctx.queues.kinds(Queue.ENFORCEMENT)

    await world.pass_days(8)
    from shared.services.sweep import start_sweep

    started = start_sweep(world.ctx)
    shards = world.ctx.queues.take(Queue.SWEEP_SHARDS)
    assert started.shards == len(shards) >= 3  # 5 customers and the feed marker in shards of 2
    for shard in shards:
        await world.host.deliver(Queue.SWEEP_SHARDS, shard)
    run = world.ctx.stores.runs.get(started.run_id, "run")
    assert run is not None and run.status == "completed" and run.shards_done == run.shards
    assert run.customers_to_suspend == 1 and not run.errors
    requests = _planned(world)
    assert {r.customer_id for r in requests} == {overdue}
    assert all(r.action == "suspend" and r.reason == "nonpayment" and r.run_id == run.run_id for r in requests)
    assert [r.scope.kind for r in requests if r.scope] == ["azure_usage"]  # the stage's scope, never "all"
    assert all(world.subscriptions(c) == dict.fromkeys(world.subscriptions(c), "active") for c in paying)
    sweep_audit = world.audit("*", "sweep.completed")
    assert sweep_audit[0].evidence["targets"] == [overdue]

    # a redelivered shard (at-least-once) is not evaluated again and releases nothing twice
    first = world.ctx.stores.shards.get(run.run_id, "shard-0")
    assert await world.host.deliver(Queue.SWEEP_SHARDS, shards[0]) == first
    assert not world.ctx.queues.kinds(Queue.ENFORCEMENT)


async def test_blast_radius_halts_the_run_and_waits_for_a_person(world: World) -> None:
    targets = [(await world.overdue_customer(f"Blast {i} Ltd"))[0] for i in range(6)]  # the limit is 5 per run
    await world.pass_days(8)
    run = await world.sweep()
    assert run.status == "halted" and run.customers_to_suspend == 6
    assert "limits are 5 customers" in run.detail
    assert not world.ctx.queues.kinds(Queue.ENFORCEMENT)  # nothing released
    pending = world.ctx.stores.approvals.get("pending", f"run:{run.run_id}")
    assert pending is not None and pending.run_id == run.run_id
    halted = [m for m in world.mail_to(TEAM) if run.run_id in str(m["Subject"])]
    assert len(halted) == 1 and "halted" in str(halted[0]["Subject"]) and "FAILED" not in str(halted[0]["Subject"])
    assert "Blast 0 Ltd" in halted[0].get_body(("plain",)).get_content()
    await world.host.run()
    assert all(set(world.subscriptions(c).values()) == {"active"} for c in targets)

    approved = decide_run(world.ctx, run.run_id, "approver@partner.example", True, "checked")
    assert approved.status == "approved"
    requests = _planned(world)
    assert sorted({r.customer_id for r in requests}) == sorted(targets)
    assert {r.actor for r in requests} == {"approver@partner.example"}  # who released them, in the audit later


async def test_a_stage_that_needs_approval_waits_for_an_operator_then_suspends(world: World) -> None:
    from shared.services.operators import decide_approval, list_approvals

    cid, (plan, licence) = await world.overdue_customer("Strategic Account Ltd")
    await world.host.deliver(Queue.PAYMENT_EVENTS, world.event("customer.updated", cid, segment="strategic"))
    await world.pass_days(8)
    run = await world.sweep()
    assert run.status == "completed" and run.planned_suspensions == 0  # strategic: a person decides
    assert not world.ctx.queues.kinds(Queue.ENFORCEMENT)
    [pending] = [a for a in list_approvals(world.ctx) if a.customer_id == cid]
    assert pending.action is not None and pending.action.kind == "suspend"

    decided = decide_approval(world.ctx, pending.key, True, "operator:approver@partner.example", "spoke to the CFO")
    assert decided.status == "approved" and decided.decided_by == "operator:approver@partner.example"
    await world.host.run(Queue.ENFORCEMENT)
    assert world.subscriptions(cid) == {plan: "suspended", licence: "active"}
    [entry] = world.audit(cid, "suspend")
    assert entry.outcome == "done" and entry.actor == "operator:approver@partner.example"
    assert world.audit(cid, "approval.approved")[0].reason == "spoke to the CFO"


async def test_a_suspension_no_longer_due_is_skipped_and_audited_with_the_fresh_decision(world: World) -> None:
    cid, _ = await world.overdue_customer("Pays Late Ltd")
    await world.pass_days(8)
    await world.sweep()
    [request] = _planned(world)
    assert request.customer_id == cid and request.decision is not None  # the sweep's decision rides along
    await world.host.deliver(Queue.PAYMENT_EVENTS, world.event(
        "payment.received", cid, payment_id=f"P-{cid[:6]}", amount="5000.00", currency="CNY",
        received_at=world.clock.now().isoformat()))  # paid while the request waited on the queue
    await world.host.deliver(Queue.ENFORCEMENT, request.envelope())
    [entry] = world.audit(cid, "suspend")
    assert entry.outcome == "skipped" and "no longer due on fresh data" in str(entry.evidence["detail"])
    assert entry.decision is not None and entry.decision.fingerprint != request.decision.fingerprint
    assert all(s == "active" for s in world.azure(cid).values() if s != "disabled")  # nothing was touched
