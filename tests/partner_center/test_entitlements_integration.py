"""The client's Azure subscription (entitlement) operations against the real sandbox over HTTPS: listed,
cancelled and reactivated, each verified by polling the read-back; refusals arrive as the mapped errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.sandbox import Sandbox, SandboxConfig
from shared.partner_center import (
    AzureEntitlement,
    AzureEntitlementStatus,
    NotFound,
    RequestError,
    RestrictionError,
    SubscriptionStatus,
)
from tests.partner_center.test_sandbox_integration import Admin, client_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(seed=5, customers=3, entitlement_change_delay_seconds=0.4)
    with Sandbox(config).start() as sb:
        yield sb


@pytest.fixture
def admin(sandbox: Sandbox) -> Iterator[Admin]:
    a = Admin(sandbox)
    yield a
    a.call("PATCH", "config", {"entitlement_change_delay_seconds": 0.4})
    a.http.close()


def _plan(admin: Admin, *statuses: str) -> tuple[str, str, list[str]]:
    made = admin.customer({"kind": "azure_plan", "entitlements": list(statuses)}, {"kind": "license"})
    plan = made["subscriptions"][0]["id"]
    state = admin.call("GET", f"state?customer={made['id']}")["customers"][0]["subscriptions"][0]
    return made["id"], plan, [e["id"] for e in state["entitlements"]]


async def test_list_cancel_and_reactivate_are_verified_by_read_back(sandbox: Sandbox, admin: Admin) -> None:
    cid, plan, (first, second) = _plan(admin, "active", "active")
    async with client_for(sandbox) as client:
        listed = await client.list_azure_entitlements(cid, plan)
        assert [e.id for e in listed] == [first, second] and all(isinstance(e, AzureEntitlement) for e in listed)
        assert all(e.is_active and e.subscription_id == plan for e in listed)
        done = await client.cancel_azure_entitlement(cid, plan, first, reason="suspected misuse", poll_interval=0.1)
        assert done.ok and done.changed and done.requested
        assert (done.before, done.after) == (AzureEntitlementStatus.ACTIVE, AzureEntitlementStatus.DISABLED)
        assert done.waited_seconds >= 0.3  # it polled until the asynchronous change showed
        assert (await client.get_azure_entitlement(cid, plan, second)).is_active  # exactly the one asked for
        again = await client.cancel_azure_entitlement(cid, plan, first, reason="again")
        assert again.ok and not again.requested  # already disabled: nothing sent
        back = await client.reactivate_azure_entitlement(cid, plan, first, poll_interval=0.1)
        assert back.ok and back.changed and back.after == AzureEntitlementStatus.ACTIVE
        assert await client.list_azure_entitlements(cid, (await client.list_subscriptions(cid))[1].id) == []


async def test_a_wait_that_ends_first_says_what_partner_center_still_shows(sandbox: Sandbox, admin: Admin) -> None:
    admin.call("PATCH", "config", {"entitlement_change_delay_seconds": 5})
    cid, plan, (eid,) = _plan(admin, "active")
    async with client_for(sandbox) as client:
        pending = await client.cancel_azure_entitlement(cid, plan, eid, reason="r", wait=0.3, poll_interval=0.1)
    assert pending.requested and not pending.ok and pending.after == AzureEntitlementStatus.ACTIVE


async def test_refusals_are_mapped_errors(sandbox: Sandbox, admin: Admin) -> None:
    admin.call("PATCH", "config", {"entitlement_change_delay_seconds": 0})
    cid, plan, (eid, other) = _plan(admin, "active", "active")
    async with client_for(sandbox) as client:
        missing = await client.cancel_azure_entitlement(cid, plan, "0" * 8, reason="r")
        assert missing.before is None and not missing.ok  # not under this plan: nothing sent
        with pytest.raises(NotFound):
            await client.list_azure_entitlements(cid, "no-such-plan")
        with pytest.raises(RestrictionError) as info:  # the plan refuses while Azure subscriptions are active
            await client.suspend(cid, plan)
        assert info.value.code == "900115"
        assert (await client.cancel_azure_entitlement(cid, plan, eid, reason="r", poll_interval=0.01)).ok
        assert (await client.cancel_azure_entitlement(cid, plan, other, reason="r", poll_interval=0.01)).ok
        [suspended] = await client.suspend(cid, plan)
        assert suspended.ok and suspended.after == SubscriptionStatus.SUSPENDED
        with pytest.raises(RestrictionError) as info:  # reactivate the plan first
            await client.reactivate_azure_entitlement(cid, plan, eid)
        assert info.value.code == "800091"
        assert (await client.reactivate(cid, plan))[0].ok
        assert (await client.reactivate_azure_entitlement(cid, plan, eid, poll_interval=0.01)).ok
        from shared.partner_center._entitlements import ENTITLEMENT_ACTION
        from shared.partner_center._transport import build_call

        with pytest.raises(RequestError) as err:  # reactivating an active one is refused by Partner Center
            await client.transport.send(build_call("POST", ENTITLEMENT_ACTION, {
                "customer_id": cid, "subscription_id": plan, "entitlement_id": eid, "action": "reactivate"}))
        assert err.value.status == 400
