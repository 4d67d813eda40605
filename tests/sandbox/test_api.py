"""The /v1 API over real HTTPS: paging, ETags, documented errors, throttling, faults, call log."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from devtools.sandbox import FaultConfig, Sandbox

pytestmark = pytest.mark.integration
USAGE = (
    "/v1/invoices/unbilled/lineitems"
    "?provider=onetime&invoicelineitemtype=usagelineitems&currencycode=CNY&period=current"
)


def follow(api: httpx.Client, first: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Walk links.next as a correct client must: add a missing /v1, send the headers back."""
    items, uris = [], []
    r = api.get(first)
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["attributes"]["objectType"] == "Collection"
        items += body["items"]
        nxt = body["links"].get("next")
        if nxt is None:
            return items, uris
        uris.append(nxt["uri"])
        uri = nxt["uri"] if nxt["uri"].startswith("/v1/") else "/v1" + nxt["uri"]
        r = api.get(uri, headers={h["key"]: h["value"] for h in nxt["headers"]})


def test_customers_page_across_many_pages(sb: Sandbox, api: httpx.Client) -> None:
    items, uris = follow(api, "/v1/customers?size=4")
    assert [c["id"] for c in items] == sb.state.customer_order
    assert len(uris) == 7 and all("seekOperation=Next" in u for u in uris)
    assert {u.startswith("/v1/") for u in uris} == {True, False}  # some next uris lack the prefix
    assert items[0]["attributes"]["objectType"] == "Customer" and items[0]["companyProfile"]["companyName"]


def test_page_size_is_capped(api: httpx.Client) -> None:
    body = api.get("/v1/customers?size=1000").json()
    assert body["totalCount"] == 7 == len(body["items"])


def test_next_page_needs_the_continuation_header(sb: Sandbox, api: httpx.Client) -> None:
    nxt = api.get("/v1/customers?size=4").json()["links"]["next"]
    token = {h["key"]: h["value"] for h in nxt["headers"]}
    assert not nxt["uri"].startswith("/v1")  # first next link lacks the prefix (next_without_v1)
    assert api.get(nxt["uri"], headers=token).status_code == 404  # a client that forgets to add it
    uri = "/v1" + nxt["uri"]
    missing = api.get(uri)
    assert missing.status_code == 400 and set(missing.json()) == {"code", "description", "data", "source"}
    assert api.get(uri, headers={"MS-ContinuationToken": "forged"}).status_code == 400
    cid = sb.state.customer_order[0]
    wrong_list = api.get(f"/v1/customers/{cid}/subscriptions?seekOperation=Next", headers=token)
    assert wrong_list.status_code == 400  # a customers token does not page subscriptions
    ok = api.get(uri, headers=token)
    assert ok.status_code == 200 and ok.json()["items"][0]["id"] == sb.state.customer_order[4]
    assert api.get(uri, headers=token).json()["items"] == ok.json()["items"]  # retrying a page is safe


def test_subscriptions_addons_and_unknown_statuses(sb: Sandbox, api: httpx.Client) -> None:
    p = sb.state.portfolio
    with_addon = next(s for s in p.subscriptions if s.parent_id)
    cid = with_addon.customer_id
    subs, _ = follow(api, f"/v1/customers/{cid}/subscriptions?size=1")
    assert {s["id"] for s in subs} == {s.id for s in p.subscriptions if s.customer_id == cid}
    addons = api.get(f"/v1/customers/{cid}/subscriptions/{with_addon.parent_id}/addons").json()["items"]
    assert [a["id"] for a in addons] == [with_addon.id] and addons[0][
        "parentSubscriptionId"
    ] == with_addon.parent_id
    statuses = {
        s["status"]
        for c in sb.state.customer_order
        for s in follow(api, f"/v1/customers/{c}/subscriptions")[0]
    }
    assert statuses - {"active", "suspended", "deleted", "pending"}, statuses  # e.g. expired / disabled


def _licence(sb: Sandbox, status: str = "active") -> Any:
    return next(
        s for s in sb.state.portfolio.subscriptions if s.offer.kind == "license" and s.status == status
    )


def _patch(api: httpx.Client, sub: dict[str, Any], etag: str | None = None, **changes: Any) -> httpx.Response:
    body = {**sub, **changes}
    path = f"/v1/customers/{sub['links']['self']['uri'].split('/')[2]}/subscriptions/{sub['id']}"
    return api.patch(path, json=body, headers={"If-Match": f'"{etag or sub["attributes"]["etag"]}"'})


def _get(api: httpx.Client, s: Any) -> dict[str, Any]:
    r = api.get(f"/v1/customers/{s.customer_id}/subscriptions/{s.id}")
    assert r.status_code == 200
    return dict(r.json())


def test_suspend_then_reactivate_with_fresh_etags(sb: Sandbox, api: httpx.Client) -> None:
    s = _licence(sb)
    sub = _get(api, s)
    r = _patch(api, sub, status="suspended", suspensionReasons=["MyOwnReason"])
    assert r.status_code == 200, r.text
    suspended = r.json()
    assert suspended["status"] == "suspended" and suspended["suspensionReasons"] == ["CustomerCancellation"]
    assert suspended["attributes"]["etag"] != sub["attributes"]["etag"]
    r = _patch(api, suspended, status="active")
    assert r.status_code == 200 and r.json()["status"] == "active" and "suspensionReasons" not in r.json()
    assert (
        len({sub["attributes"]["etag"], suspended["attributes"]["etag"], r.json()["attributes"]["etag"]}) == 3
    )


def test_etag_race_is_2055(sb: Sandbox, api: httpx.Client) -> None:
    s = _licence(sb)
    a, b = _get(api, s), _get(api, s)
    assert _patch(api, a, status="suspended").status_code == 200
    lost = _patch(api, b, status="suspended")
    assert lost.status_code == 400 and lost.json()["code"] == 2055
    assert _patch(api, _get(api, s), status="active").status_code == 200  # re-GET, retry: fine


def test_patch_without_if_match_is_refused(sb: Sandbox, api: httpx.Client) -> None:
    s = _licence(sb)
    body = _get(api, s)
    del body["attributes"]["etag"]
    r = api.patch(f"/v1/customers/{s.customer_id}/subscriptions/{s.id}", json={**body, "status": "suspended"})
    assert r.status_code == 412


def test_editing_a_suspended_subscription_is_800091(sb: Sandbox, api: httpx.Client) -> None:
    s = _licence(sb, "suspended")
    r = _patch(api, _get(api, s), quantity=s.quantity + 1, status="active")
    assert r.status_code == 400 and str(r.json()["code"]) == "800091"


def test_addon_under_a_suspended_parent_is_27009(sb: Sandbox, api: httpx.Client) -> None:
    addon = next(s for s in sb.state.portfolio.subscriptions if s.parent_id)
    parent = sb.state.subscriptions[addon.parent_id]
    parent.status, addon.status = "active", "active"
    assert _patch(api, _get(api, addon), status="suspended").status_code == 200
    assert _patch(api, _get(api, parent), status="suspended").status_code == 200
    r = _patch(api, _get(api, addon), status="active")
    assert r.status_code == 409 and r.json()["code"] == 27009
    assert _patch(api, _get(api, parent), status="active").status_code == 200
    assert _patch(api, _get(api, addon), status="active").status_code == 200


def test_azure_plan_with_active_azure_subscriptions_is_900115(sb: Sandbox, api: httpx.Client) -> None:
    plan = next(
        s
        for s in sb.state.portfolio.subscriptions
        if s.offer.kind == "azure_plan"
        and s.status == "active"
        and any(e.status == "active" for e in s.entitlements)
    )
    r = _patch(api, _get(api, plan), status="suspended")
    assert r.status_code == 403 and str(r.json()["code"]) == "900115"
    assert (
        api.patch(f"/_sandbox/subscriptions/{plan.id}", json={"entitlements": "disabled"}).status_code == 200
    )
    ents = api.get(f"/v1/customers/{plan.customer_id}/subscriptions/{plan.id}/azureEntitlements").json()[
        "items"
    ]
    assert {e["status"] for e in ents} == {"disabled"}
    assert _patch(api, _get(api, plan), status="suspended").status_code == 200


def test_deleted_subscription_is_2011(sb: Sandbox, api: httpx.Client) -> None:
    s = _licence(sb)
    api.patch(f"/_sandbox/subscriptions/{s.id}", json={"status": "deleted"})
    r = _patch(api, _get(api, s), status="suspended")
    assert r.status_code == 400 and r.json()["code"] == 2011


def test_usage_line_items_page_through_continuation(sb: Sandbox, api: httpx.Client) -> None:
    items, uris = follow(api, USAGE + "&size=40")
    assert len(items) == sum(1 for _ in sb.state.portfolio.iter_usage()) and len(uris) > 3
    assert all("currencycode=CNY" in u and "provider=onetime" in u for u in uris)
    assert {i["pricingCurrency"] for i in items} == {"CNY"}
    assert items[0]["attributes"]["objectType"] == "DailyRatedUsageLineItem"
    cust = sb.state.customer_order[0]
    sub = sb.state.subs_by_customer[cust][0]
    added = api.post(
        "/_sandbox/usage",
        json={
            "items": [
                {
                    "customerId": cust,
                    "subscriptionId": sub,
                    "usageDate": "2025-03-11T00:00:00Z",
                    "meterCategory": "Virtual Machines",
                    "meterName": "NC6s v3",
                    "quantity": 24,
                    "unitPrice": 23.5,
                }
            ]
        },
    )
    assert added.status_code == 200
    again, _ = follow(api, USAGE + "&size=40")
    assert again[-1]["meterName"] == "NC6s v3" and again[-1]["billingPreTaxTotal"] == 564.0
    assert api.get(USAGE.replace("provider=onetime", "provider=azure")).status_code == 400


def test_fraud_events_exist_only_in_the_global_cloud(sb: Sandbox, api: httpx.Client) -> None:
    assert api.get("/v1/fraudEvents").status_code == 404
    sb.state.update_config({"cloud": "global"})
    sb.state.reset(customers=200)  # 4 misusing customers: every kind, crypto and GPU among them
    app_only = api.get("/v1/fraudEvents")
    assert app_only.status_code == 403 and "App+User" in app_only.json()["description"]
    delegated, _ = sb.state.issue_token(sb.tenant_id, sb.client_id, delegated=True)
    api.headers["Authorization"] = f"Bearer {delegated}"
    events = api.get("/v1/fraudEvents").json()
    assert isinstance(events, list)  # a bare array, as documented
    assert events and {e["eventStatus"] for e in events} == {"Active"}
    documented = {"customerTenantId", "eventId", "firstOccurrence", "lastOccurrence", "subscriptionId", "eventStatus"}
    assert all(documented <= e.keys() for e in events)
    sid, eid = events[0]["subscriptionId"], events[0]["eventId"]
    body = {"EventIds": [eid], "EventStatus": "Resolved", "ResolvedReason": "Fraud"}
    r = api.post(f"/v1/fraudEvents/subscription/{sid}/status", json=body)
    assert r.status_code == 200 and r.json()[0]["eventStatus"] == "Resolved"
    assert r.json()[0]["resolvedReason"] == "Fraud"
    active = api.get("/v1/fraudEvents?EventStatus=Active").json()
    assert sid not in {e["subscriptionId"] for e in active}
    bad = api.post(f"/v1/fraudEvents/subscription/{sid}/status", json={"EventStatus": "Closed"})
    assert bad.status_code == 400
    unknown = api.post(f"/v1/fraudEvents/subscription/{sid}/status", json={**body, "EventIds": ["nope"]})
    assert unknown.status_code == 404


def test_documented_required_header_and_size_are_enforced(sb: Sandbox, api: httpx.Client) -> None:
    """MS-Contract-Version is documented as required on every call, size on GET /v1/customers."""
    cid = sb.state.customer_order[0]
    bare = {"MS-Contract-Version": ""}
    r = api.get(f"/v1/customers/{cid}/subscriptions", headers=bare)
    assert r.status_code == 400 and "MS-Contract-Version" in r.json()["description"]
    assert api.get(f"/v1/customers/{cid}/subscriptions").status_code == 200
    r = api.get("/v1/customers")
    assert r.status_code == 400 and "size" in r.json()["description"]
    assert api.get("/v1/customers?size=5").status_code == 200
    calls = api.get("/_sandbox/calls?since=0").json()["calls"]
    assert [c["status"] for c in calls if c["path"].startswith("/v1/")][-4:] == [400, 200, 400, 200]


def test_throttling_per_partner_and_per_customer(sb: Sandbox, api: httpx.Client) -> None:
    sb.state.update_config({"customer_rate_per_minute": 3})
    cid = sb.state.customer_order[0]
    codes = [api.get(f"/v1/customers/{cid}").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = api.get(f"/v1/customers/{cid}")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json() == {
        "statusCode": 429,
        "message": f"Rate limit is exceeded. Try again in {r.headers['Retry-After']} seconds.",
    }
    assert api.get(f"/v1/customers/{sb.state.customer_order[1]}").status_code == 200  # other pair: fine
    sb.state.update_config({"rate_per_minute": 1})
    assert api.get("/v1/customers").status_code == 429  # the partner-wide window is already full


def test_fault_injection_is_repeatable_and_logged(sb: Sandbox, api: httpx.Client) -> None:
    def run() -> list[int]:
        sb.set_faults(FaultConfig(seed=11, error_rate=0.4, storm_429=2))
        return [api.get("/v1/invoices").status_code for _ in range(20)]

    first = run()
    assert first[:2] == [429, 429] and {500, 503} & set(first) and 200 in first
    assert run() == first
    r = api.post("/_sandbox/faults", json={})
    assert r.status_code == 200 and api.get("/v1/invoices").status_code == 200


def test_timeouts_happen_after_the_work_is_done(sb: Sandbox, api: httpx.Client) -> None:
    s = _licence(sb)
    sub = _get(api, s)
    sb.set_faults(FaultConfig(timeout_rate=1.0, timeout_seconds=1.0))
    with pytest.raises(httpx.ReadTimeout):
        api.patch(
            f"/v1/customers/{s.customer_id}/subscriptions/{s.id}",
            json={**sub, "status": "suspended"},
            headers={"If-Match": sub["attributes"]["etag"]},
            timeout=0.2,
        )
    sb.set_faults(FaultConfig())
    assert _get(api, s)["status"] == "suspended"


def test_call_log_records_request_ids(sb: Sandbox, api: httpx.Client) -> None:
    since = api.get("/_sandbox/calls").json()["last"]
    rid, corr = str(uuid.uuid4()), str(uuid.uuid4())
    r = api.get("/v1/customers?size=2", headers={"MS-RequestId": rid, "MS-CorrelationId": corr})
    assert r.headers["MS-RequestId"] == rid
    calls = api.get(f"/_sandbox/calls?since={since}").json()["calls"]
    assert calls == [calls[0]] and calls[0]["requestId"] == rid and calls[0]["correlationId"] == corr
    assert (calls[0]["method"], calls[0]["path"], calls[0]["query"], calls[0]["status"]) == (
        "GET",
        "/v1/customers",
        "size=2",
        200,
    )


def test_admin_adds_customers_and_reports_state(sb: Sandbox, api: httpx.Client) -> None:
    r = api.post(
        "/_sandbox/customers",
        json={
            "company_name": "Demo Trading Co., Ltd.",
            "subscriptions": [
                {"kind": "license", "quantity": 10},
                {"kind": "addon", "parent": 0},
                {"kind": "azure_legacy", "daily_usage_units": 2.0},
            ],
        },
    )
    assert r.status_code == 200, r.text
    cid = r.json()["id"]
    assert api.get(f"/v1/customers/{cid}").json()["companyProfile"]["companyName"] == "Demo Trading Co., Ltd."
    state = api.get(f"/_sandbox/state?customer={cid}").json()
    assert [s["kind"] for s in state["customers"][0]["subscriptions"]] == ["license", "addon", "azure_legacy"]
    assert state["counts"]["customers"] == 31
    usage, _ = follow(api, USAGE)
    assert any(i["customerId"] == cid for i in usage)
    assert api.patch("/_sandbox/config", json={"page_size_cap": 2}).json()["page_size_cap"] == 2
    assert len(api.get("/v1/customers?size=10").json()["items"]) == 2
    assert api.post("/_sandbox/reset", json={"seed": 8}).json() == {"seed": 8, "customers": 30}
