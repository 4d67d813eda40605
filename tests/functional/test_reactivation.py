"""Reactivation on payment (payment_event -> ingest -> enforcement execute): the payment itself queues the
reactivation (no sweep needed), and only what csp-guard suspended for non-payment comes back, the plan before
what is under it; an Azure subscription disabled before and a licence an operator suspended stay as they are."""

from __future__ import annotations

import pytest

from shared.messaging import Queue
from shared.services.messages import EnforcementRequest
from shared.services.operators import ManualAction, manual_enforcement
from tests.functional.conftest import World

pytestmark = pytest.mark.functional


async def test_payment_reactivates_only_what_csp_guard_suspended_for_nonpayment(world: World) -> None:
    cid, (plan, licence) = await world.overdue_customer("Pays Up Ltd")
    first, second, idle = world.azure(cid)
    await world.pass_days(8)
    await world.sweep()
    await world.host.run(Queue.ENFORCEMENT)
    assert world.subscriptions(cid)[plan] == "suspended"
    manual_enforcement(world.ctx, cid, "suspend", ManualAction(reason="licence audit pending",
                                                                subscription_ids=(licence,)),
                       "operator:ops@partner.example")
    await world.host.run(Queue.ENFORCEMENT, Queue.NOTIFICATIONS)
    assert world.subscriptions(cid) == {plan: "suspended", licence: "suspended"}

    payment = world.event("payment.received", cid, payment_id="PAY-R1", amount="5000.00", currency="CNY",
                          received_at=world.clock.now().isoformat())
    await world.host.deliver(Queue.PAYMENT_EVENTS, payment)
    [request] = [EnforcementRequest.model_validate(e.payload) for e in world.ctx.queues.take(Queue.ENFORCEMENT)]
    assert request.action == "reactivate" and request.reason == "nonpayment"  # from the event, not a sweep
    outcome = await world.host.deliver(Queue.ENFORCEMENT, EnforcementRequest.envelope(request))
    assert outcome.status == "done"

    assert world.subscriptions(cid) == {plan: "active", licence: "suspended"}  # the operator's stays
    assert world.azure(cid) == {first: "active", second: "active", idle: "disabled"}  # never the idle one
    assert [(r.subscription_id, r.reason) for r in world.ctx.stores.suspended_by_us(cid)] == [(licence, "manual")]
    [entry] = [e for e in world.audit(cid, "reactivate") if e.outcome == "done"]
    order = [t["target"] for t in entry.evidence["targets"]]
    assert order[0] == plan and sorted(order[1:]) == sorted([f"{plan}/{first}", f"{plan}/{second}"])
    assert entry.actor.startswith("event:")
    await world.host.run(Queue.NOTIFICATIONS)
    assert [m for m in world.mail_for(cid) if "reactivat" in str(m["Subject"]).lower()]
    assert world.ctx.stores.collections_state(cid).case is None

    # the producer retries the payment: no second reactivation is queued or run
    await world.host.deliver(Queue.PAYMENT_EVENTS, payment)
    await world.host.run()
    assert len([e for e in world.audit(cid, "reactivate") if e.outcome == "done"]) == 1
