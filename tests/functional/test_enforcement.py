"""Enforcement (functions/collections.py enforcement_action -> shared.services.enforcement.execute) against the
sandbox's Partner Center: what is suspended is read back from the sandbox, recorded with who, why and when,
a redelivered request changes nothing, and a change Partner Center refuses is reported as refused, never done."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.sandbox.admin import state
from shared.messaging import Envelope, Queue
from shared.services.operators import ManualAction, known_subscriptions, manual_enforcement
from tests.functional.conftest import TEAM, World

pytestmark = pytest.mark.functional


def _etags(world: World, customer_id: str) -> dict[str, Any]:
    subs = state(world.store, customer_id)["customers"][0]["subscriptions"]
    return {s["id"]: (s["etag"], [e["status"] for e in s["entitlements"]]) for s in subs}


async def _released(world: World) -> list[Envelope]:
    """The suspensions a sweep releases once the notice period has passed."""
    await world.pass_days(8)
    run = await world.sweep()
    assert run.status == "completed", run.detail
    return world.ctx.queues.take(Queue.ENFORCEMENT)


async def test_suspension_disables_the_azure_subscriptions_then_the_plan_and_is_audited_once(world: World) -> None:
    cid, (plan, licence) = await world.overdue_customer("Overdue Usage Ltd")
    first, second, idle = world.azure(cid)
    [request] = await _released(world)

    outcome = await world.host.deliver(Queue.ENFORCEMENT, request)
    assert outcome.status == "done"
    # read from the sandbox: the plan's Azure subscriptions disabled, then the plan; the licence untouched
    assert world.subscriptions(cid) == {plan: "suspended", licence: "active"}
    assert world.azure(cid) == {first: "disabled", second: "disabled", idle: "disabled"}
    records = world.ctx.stores.suspended_by_us(cid)
    assert {(r.subscription_id, r.entitlement_id) for r in records} == {(plan, None), (plan, first), (plan, second)}
    assert {r.reason for r in records} == {"nonpayment"} and all(r.verified_at for r in records)
    [entry] = world.audit(cid, "suspend")
    assert entry.outcome == "done" and entry.actor == "csp-guard:sweep" and entry.reason.startswith("nonpayment")
    assert abs((entry.at - world.clock.now()).total_seconds()) < 60
    assert sorted((t["target"], t["status"], t["verified"]) for t in entry.evidence["targets"]) == sorted(
        [(plan, "suspended", True), (f"{plan}/{first}", "disabled", True), (f"{plan}/{second}", "disabled", True)])

    # at-least-once: the host delivers the same request again; nothing changes in Partner Center or the audit
    before = _etags(world, cid)
    again = await world.host.deliver(Queue.ENFORCEMENT, request)
    assert again.status == "duplicate"
    assert _etags(world, cid) == before and len(world.audit(cid, "suspend")) == 1
    await world.host.run(Queue.NOTIFICATIONS)
    done = [m for m in world.mail_for(cid) if "suspended" in str(m["Subject"]).lower()]
    assert len(done) == 1 and "Azure plan" in done[0].get_body(("plain",)).get_content()


async def test_manual_suspension_of_a_licence_names_the_operator(world: World) -> None:
    cid, (plan, licence) = world.customer("Manual Co", {"kind": "azure_plan", "entitlements": ["active"]},
                                          {"kind": "license", "friendly_name": "Office 365 E3"})
    ids = await known_subscriptions(world.ctx, cid, (licence.upper(),))  # as functions/operators.py checks them
    body = ManualAction(reason="contract terminated by the partner", subscription_ids=ids)
    manual_enforcement(world.ctx, cid, "suspend", body, "operator:ops@partner.example")
    await world.host.run(Queue.ENFORCEMENT)

    assert world.subscriptions(cid) == {plan: "active", licence: "suspended"}
    assert set(world.azure(cid).values()) == {"active"}
    [record] = world.ctx.stores.suspended_by_us(cid)
    assert (record.subscription_id, record.reason, record.suspended_by) == (
        licence, "manual", "operator:ops@partner.example")
    [entry] = world.audit(cid, "suspend")
    assert entry.outcome == "done" and entry.actor == "operator:ops@partner.example"
    assert entry.reason == "manual: contract terminated by the partner" and entry.evidence["changed"] == [licence]


async def test_a_change_partner_center_refuses_is_reported_as_refused(world: World) -> None:
    cid, (plan, licence) = await world.overdue_customer("Refused Ltd")
    first, second, idle = world.azure(cid)
    [request] = await _released(world)
    # Partner Center answers 403 to a cancel unless the caller is Global Admin with the Admin Agent role
    world.store.update_config({"entitlement_admin_agent": False})

    outcome = await world.host.deliver(Queue.ENFORCEMENT, request)
    assert outcome.status != "done" and outcome.failed
    assert world.subscriptions(cid) == {plan: "active", licence: "active"}  # 900115: the plan is never PATCHed
    assert world.azure(cid) == {first: "active", second: "active", idle: "disabled"}
    [entry] = world.audit(cid, "suspend")
    assert entry.outcome == outcome.status and entry.outcome in ("failed", "partial")
    shown = {t["target"]: (t["status"], t["verified"]) for t in entry.evidence["targets"]}
    assert shown[f"{plan}/{first}"] == ("active", False) and shown[plan][1] is False
    assert all(not r.verified_at for r in world.ctx.stores.suspended_by_us(cid))
    # the team hears what did not happen, naming the target and what Partner Center shows; no "suspended" notice
    await world.host.run(Queue.NOTIFICATIONS)
    [alert] = [m for m in world.mail_to(TEAM) if "Suspension FAILED for Refused Ltd" in str(m["Subject"])]
    text = alert.get_body(("plain",)).get_content()
    assert first in text and "Admin Agent" in text
    assert not [m for m in world.mail_for(cid) if "suspended" in str(m["Subject"]).lower()]

    # not remembered as done: once Partner Center allows it, the redelivered request acts
    world.store.update_config({"entitlement_admin_agent": True})
    retried = await world.host.deliver(Queue.ENFORCEMENT, request)
    assert retried.status == "done" and world.subscriptions(cid)[plan] == "suspended"


async def test_a_plan_patch_partner_center_refuses_is_reported_as_failed(world: World,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    cid, (plan, licence) = await world.overdue_customer("Race Ltd")
    [request] = await _released(world)
    patch = world.store.patch_subscription

    def reactivated_meanwhile(customer_id: str, subscription_id: str, *args: Any) -> Any:
        """Someone turns the plan's Azure subscriptions back on in the portal just before the plan's PATCH."""
        if subscription_id == plan:  # (the plan's own etag is unchanged: only what is under it changed)
            for ent in world.store.subscriptions[plan].entitlements:
                ent.status, ent.pending = "active", None
        return patch(customer_id, subscription_id, *args)

    monkeypatch.setattr(world.store, "patch_subscription", reactivated_meanwhile)
    outcome = await world.host.deliver(Queue.ENFORCEMENT, request)

    assert outcome.status in ("failed", "partial") and "900115" in outcome.failed[plan]
    assert world.subscriptions(cid) == {plan: "active", licence: "active"}  # the sandbox refused the PATCH
    [entry] = world.audit(cid, "suspend")
    assert entry.outcome == outcome.status
    [shown] = [t for t in entry.evidence["targets"] if t["target"] == plan]
    assert (shown["status"], shown["verified"]) == ("active", False)  # what Partner Center showed, read again
    assert plan not in {r.subscription_id for r in world.ctx.stores.suspended_by_us(cid) if r.entitlement_id is None}
    await world.host.run(Queue.NOTIFICATIONS)
    assert [m for m in world.mail_to(TEAM) if "Suspension FAILED for Race Ltd" in str(m["Subject"])]
    # the customer hears only of what was verified: the two Azure subscriptions disabled, never the plan
    [done] = [m for m in world.mail_for(cid) if "suspended" in str(m["Subject"]).lower()]
    text = done.get_body(("plain",)).get_content()
    assert "the following 2 subscription(s)" in text and "Azure plan" not in text


async def test_a_partner_center_outage_defers_the_request_and_it_completes_later(world: World) -> None:
    from devtools.sandbox.config import FaultConfig

    cid, (plan, licence) = await world.overdue_customer("Outage Ltd")
    [request] = await _released(world)
    world.store.set_faults(FaultConfig(seed=1, error_rate=1.0))  # every call answers 500 or 503

    assert await world.host.deliver(Queue.ENFORCEMENT, request) is None  # deferred, not failed, not parked
    assert world.ctx.deadletters.list(Queue.ENFORCEMENT) == []
    assert world.ctx.queues.take(Queue.ENFORCEMENT) == []  # waiting out its back-off
    assert world.subscriptions(cid) == {plan: "active", licence: "active"}

    world.store.set_faults(FaultConfig())
    world.clock.advance(minutes=10)
    [later] = world.ctx.queues.take(Queue.ENFORCEMENT)
    assert later.attempt == 1 and later.idempotency_key == request.idempotency_key
    outcome = await world.host.deliver(Queue.ENFORCEMENT, later)
    assert outcome.status == "done" and world.subscriptions(cid)[plan] == "suspended"
    assert [e.outcome for e in world.audit(cid, "suspend")] == ["done"]  # the outage itself claimed nothing
