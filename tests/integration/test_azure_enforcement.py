"""Azure plan enforcement against Azurite and the Partner Center sandbox, through the enforcement worker's entry
point (``execute``) and the fraud containment's target resolution: exactly the named Azure subscription, the plan
only when nothing under it is active, and what Partner Center refuses reported per target."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from devtools.azurite import Azurite
from shared.collections.policy import SuspendScope
from shared.context import AppContext
from shared.fraud.assess import RuleHit
from shared.fraud.cases import Case
from shared.fraud.rules import ContainmentScope, Outcome
from shared.fraud.signals import Detector, Signal
from shared.services.enforcement import execute
from shared.services.fraud.targets import resolve_targets
from shared.services.messages import AzureTarget, EnforcementRequest
from shared.settings import load_settings
from tests.e2e_collections.conftest import (
    CollectionsStack,
    add_customer,
    entitlement_status,
    services_world,
)
from tests.e2e_collections.conftest import subscription_status as statuses

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def world(azurite: Azurite) -> Iterator[tuple[CollectionsStack, dict[str, str]]]:
    yield from services_world(azurite, seed=9, customers=2)


def _customer(stack: CollectionsStack, name: str) -> tuple[str, str, str, list[str]]:
    made = add_customer(stack, name, [{"kind": "azure_plan", "entitlements": ["active", "active"]},
                                      {"kind": "license", "friendly_name": "Office 365 E3"}])
    cid, (plan, licence) = made["id"], [s["id"] for s in made["subscriptions"]]
    return cid, plan, licence, list(entitlement_status(stack, cid))


def _case(cid: str, plan: str, ents: tuple[str, ...], containment: ContainmentScope = "affected") -> Case:
    sig = Signal(detector=Detector.RISKY_METER, customer_id=cid, day=date.today(), subscription_ids=(plan,),
                 entitlement_ids=ents, why="GPU", figures={})
    hit = RuleHit(rule_id="r", outcome=Outcome.CONTAIN, shadow=False, requires_approval=False, signal=sig,
                  containment=containment)
    return Case(case_id=f"fraud-{cid}", customer_id=cid, outcome=Outcome.CONTAIN, requires_approval=False,
                rules_version="t", opened_at=NOW, updated_at=NOW, first_signal_at=NOW, hits=(hit,))


def _request(cid: str, key: str, action: str = "suspend", **extra: Any) -> EnforcementRequest:
    return EnforcementRequest(action=action, customer_id=cid, reason="manual", key=key, detail="abuse report",
                              actor="operator:it", requested_at=NOW, **extra)


async def test_containment_targets_exactly_what_the_signal_names(
        world: tuple[CollectionsStack, dict[str, str]]) -> None:
    stack, values = world
    ctx = AppContext(load_settings(**values))
    cid, plan, licence, (first, second) = _customer(stack, "Targets Ltd")
    assert (await resolve_targets(ctx, _case(cid, plan, (second,)))).labels == (f"{plan}/{second}",)
    assert (await resolve_targets(ctx, _case(cid, plan, ()))).labels == tuple(sorted([f"{plan}/{first}",
                                                                                     f"{plan}/{second}"]))
    usage = await resolve_targets(ctx, _case(cid, plan, (second,), "azure_usage"))
    assert licence not in usage.labels and len(usage.labels) == 2
    whole = await resolve_targets(ctx, _case(cid, plan, (second,), "customer"))
    assert licence in whole.labels  # only a rule that says so reaches the licence (e-mail)


async def test_execute_disables_exactly_the_named_azure_subscription_then_restores_it(
        world: tuple[CollectionsStack, dict[str, str]]) -> None:
    stack, values = world
    ctx = AppContext(load_settings(**values))
    cid, plan, licence, (first, second) = _customer(stack, "Exact Ltd")
    target = AzureTarget(plan_subscription_id=plan, entitlement_id=second)
    out = await execute(ctx, _request(cid, "m:exact", entitlements=(target,)))
    assert out.status == "done" and out.changed == [f"{plan}/{second}"]
    assert entitlement_status(stack, cid) == {first: "active", second: "disabled"}
    assert statuses(stack, cid) == {plan: "active", licence: "active"}
    [rec] = ctx.stores.suspended_by_us(cid)
    assert (rec.subscription_id, rec.entitlement_id, rec.seen_status) == (plan, second, "disabled")
    back = await execute(ctx, _request(cid, "m:exact:back", "reactivate", entitlements=(target,)))
    assert back.status == "done" and [(t.target, t.status) for t in back.targets] == [(f"{plan}/{second}", "active")]
    assert entitlement_status(stack, cid) == {first: "active", second: "active"}
    assert ctx.stores.suspended_by_us(cid) == []


async def test_the_plan_is_suspended_only_once_nothing_under_it_is_active(
        world: tuple[CollectionsStack, dict[str, str]]) -> None:
    stack, values = world
    ctx = AppContext(load_settings(**values))
    cid, plan, licence, ents = _customer(stack, "Plan Too Ltd")
    scope = SuspendScope.model_validate({"kind": "azure_usage", "suspend_plan": True})
    with stack.sandbox_admin() as admin:
        admin.patch("/_sandbox/config", json={"entitlement_admin_agent": False}).raise_for_status()
    try:
        refused = await execute(ctx, _request(cid, "m:plan", scope=scope))
    finally:
        with stack.sandbox_admin() as admin:
            admin.patch("/_sandbox/config", json={"entitlement_admin_agent": True}).raise_for_status()
    assert refused.status == "failed" and set(refused.failed) == {plan, *(f"{plan}/{e}" for e in ents)}
    assert "still active" in refused.failed[plan] and "403" in refused.failed[f"{plan}/{ents[0]}"]
    assert statuses(stack, cid)[plan] == "active" and ctx.stores.suspended_by_us(cid) == []
    done = await execute(ctx, _request(cid, "m:plan", scope=scope))  # a failed request released its key
    assert done.status == "done" and statuses(stack, cid) == {plan: "suspended", licence: "active"}
    assert set(entitlement_status(stack, cid).values()) == {"disabled"}
    back = await execute(ctx, _request(cid, "m:plan:back", "reactivate"))
    assert back.status == "done" and back.targets[0].target == plan  # the plan first, then what is under it
    assert set(entitlement_status(stack, cid).values()) == {"active"} and statuses(stack, cid)[plan] == "active"
