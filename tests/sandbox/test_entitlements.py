"""Azure subscriptions (entitlements) under Azure plans: the documented cancel/reactivate calls, their
asynchronous status, and every refusal around them (including the plan PATCH's 900115)."""

from __future__ import annotations

import time

import httpx
import pytest

from devtools.sandbox import Sandbox
from devtools.sandbox.generator import Subscription, generate_portfolio
from devtools.sandbox.rules import CODE_CHANGE_IN_PROGRESS, CODE_ENTITLEMENT_STATE

pytestmark = pytest.mark.integration
REASON = {"cancellationReason": "suspected misuse"}


def _plan(sb: Sandbox) -> Subscription:
    return next(
        s for s in sb.state.portfolio.subscriptions
        if s.offer.kind == "azure_plan" and s.status == "active" and s.entitlements[0].status == "active"
    )


def _url(plan: Subscription, entitlement: str = "", action: str = "") -> str:
    base = f"/v1/customers/{plan.customer_id}/subscriptions/{plan.id}/azureEntitlements"
    return base + (f"/{entitlement}" if entitlement else "") + (f"/{action}" if action else "")


def _statuses(api: httpx.Client, plan: Subscription) -> dict[str, str]:
    r = api.get(_url(plan))
    assert r.status_code == 200
    assert r.json()["attributes"]["objectType"] == "Collection"
    return {e["id"]: e["status"] for e in r.json()["items"]}


def _wait(api: httpx.Client, plan: Subscription, eid: str, status: str) -> float:
    start = time.monotonic()
    while _statuses(api, plan)[eid] != status:
        assert time.monotonic() - start < 5, f"{eid} never became {status}"
        time.sleep(0.05)
    return time.monotonic() - start


def test_default_portfolio_has_azure_plans_with_active_azure_subscriptions_named_by_usage() -> None:
    p = generate_portfolio(3, 200)
    plans = [s for s in p.subscriptions if s.offer.kind == "azure_plan" and s.usage is not None]
    assert plans and all(any(e.status == "active" for e in s.entitlements) for s in plans)
    by_plan = {s.id: {e.id: e for e in s.entitlements} for s in plans}
    items, _ = p.usage_page(None, 2000)
    named = [i for i in items if i["subscriptionId"] in by_plan]
    assert named
    for item in named:
        ent = by_plan[str(item["subscriptionId"])][str(item["entitlementId"])]  # the plan's own Azure subscription
        assert ent.status == "active" and item["entitlementDescription"] == ent.friendly_name


def test_cancel_is_accepted_then_shows_after_the_delay_and_reactivate_undoes_it(sb: Sandbox,
                                                                                api: httpx.Client) -> None:
    sb.state.update_config({"entitlement_change_delay_seconds": 0.4})
    plan = _plan(sb)
    eid = plan.entitlements[0].id
    r = api.post(_url(plan, eid, "cancel"), json=REASON)
    assert r.status_code == 202
    assert _statuses(api, plan)[eid] == "active"  # asynchronous: the read-back lags
    again = api.post(_url(plan, eid, "cancel"), json=REASON)
    assert again.status_code == 409 and again.json()["code"] == CODE_CHANGE_IN_PROGRESS
    assert _wait(api, plan, eid, "disabled") >= 0.2
    state = api.get("/_sandbox/state", params={"customer": plan.customer_id}).json()
    shown = next(s for s in state["customers"][0]["subscriptions"] if s["id"] == plan.id)["entitlements"]
    assert (shown[0]["id"], shown[0]["status"], shown[0]["pending"]) == (eid, "disabled", None)
    assert api.post(_url(plan, eid, "reactivate")).status_code == 202
    _wait(api, plan, eid, "active")


def test_refusals(sb: Sandbox, api: httpx.Client) -> None:
    sb.state.update_config({"entitlement_change_delay_seconds": 0})
    plan = _plan(sb)
    eid = plan.entitlements[0].id
    # reactivating an active one, cancelling without a reason, an unknown Azure subscription
    r = api.post(_url(plan, eid, "reactivate"))
    assert r.status_code == 400 and r.json()["code"] == CODE_ENTITLEMENT_STATE
    assert api.post(_url(plan, eid, "cancel"), json={}).status_code == 400
    assert api.post(_url(plan, eid, "cancel"), content=b"{not json").status_code == 400
    assert api.post(_url(plan, "00000000-0000-0000-0000-000000000000", "cancel"), json=REASON).status_code == 404
    # the plan refuses suspension while any Azure subscription is active: 900115
    assert api.post(_url(plan, eid, "cancel"), json=REASON).status_code == 202
    r = api.post(_url(plan, eid, "cancel"), json=REASON)
    assert r.status_code == 400 and r.json()["code"] == CODE_ENTITLEMENT_STATE  # already cancelled
    for e in plan.entitlements[1:]:
        if e.status == "active":
            got = api.get(f"/v1/customers/{plan.customer_id}/subscriptions/{plan.id}").json()
            r = api.patch(f"/v1/customers/{plan.customer_id}/subscriptions/{plan.id}",
                          json={**got, "status": "suspended"}, headers={"If-Match": f'"{got["attributes"]["etag"]}"'})
            assert r.status_code == 403 and str(r.json()["code"]) == "900115"
            assert api.post(_url(plan, e.id, "cancel"), json=REASON).status_code == 202
    got = api.get(f"/v1/customers/{plan.customer_id}/subscriptions/{plan.id}").json()
    r = api.patch(f"/v1/customers/{plan.customer_id}/subscriptions/{plan.id}",
                  json={**got, "status": "suspended"}, headers={"If-Match": f'"{got["attributes"]["etag"]}"'})
    assert r.status_code == 200
    # a suspended plan's Azure subscriptions can't be changed (800091): reactivate the plan first
    r = api.post(_url(plan, eid, "reactivate"))
    assert r.status_code == 400 and str(r.json()["code"]) == "800091"
    got = api.get(f"/v1/customers/{plan.customer_id}/subscriptions/{plan.id}").json()
    assert api.patch(f"/v1/customers/{plan.customer_id}/subscriptions/{plan.id}",
                     json={**got, "status": "active"},
                     headers={"If-Match": f'"{got["attributes"]["etag"]}"'}).status_code == 200
    assert api.post(_url(plan, eid, "reactivate")).status_code == 202
    assert _statuses(api, plan)[eid] == "active"


def test_licences_and_deleted_plans_have_no_changeable_azure_subscriptions(sb: Sandbox, api: httpx.Client) -> None:
    licence = next(s for s in sb.state.portfolio.subscriptions if s.offer.kind == "license")
    assert api.get(_url(licence)).json()["items"] == []
    assert api.post(_url(licence, "x", "cancel"), json=REASON).status_code == 404
    plan = _plan(sb)
    api.patch(f"/_sandbox/subscriptions/{plan.id}", json={"status": "deleted"})
    r = api.post(_url(plan, plan.entitlements[0].id, "cancel"), json=REASON)
    assert r.status_code == 400 and r.json()["code"] == 2011


def test_cancel_needs_global_admin_with_admin_agent(sb: Sandbox, api: httpx.Client) -> None:
    sb.state.update_config({"entitlement_admin_agent": False})
    plan = _plan(sb)
    r = api.post(_url(plan, plan.entitlements[0].id, "cancel"), json=REASON)
    assert r.status_code == 403 and "Admin Agent" in r.json()["description"]
    assert _statuses(api, plan)[plan.entitlements[0].id] == "active"
