"""The client against the real sandbox over HTTPS (trustme CA), tokens through MSAL.

One sandbox per module; tests that mutate state create their own customers through the admin API,
and faults are cleared after every test.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import ssl
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from devtools.sandbox import Sandbox, SandboxConfig
from shared.partner_center import (
    AuthError,
    EtagMismatch,
    FraudEventStatus,
    NotFound,
    PartnerCenterClient,
    RestrictionError,
    RetryPolicy,
    SubscriptionStatus,
)
from shared.settings import Settings

pytestmark = pytest.mark.integration

FAST = RetryPolicy(max_attempts=5, backoff_initial=0.01, backoff_max=0.05, jitter=0.01)


class Admin:
    """The sandbox's /_sandbox endpoints over HTTPS."""

    def __init__(self, sb: Sandbox) -> None:
        ctx = ssl.create_default_context(cafile=str(sb.ca_pem_path))
        self.http = httpx.Client(base_url=sb.base_url, verify=ctx, timeout=10)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"/_sandbox/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def calls_since(self, seq: int, api_only: bool = False) -> list[dict[str, Any]]:
        calls = list(self.call("GET", f"calls?since={seq}")["calls"])
        return [c for c in calls if c["path"].startswith("/v1/")] if api_only else calls

    def last_call(self) -> int:
        return int(self.call("GET", "calls?since=999999999")["last"])

    def customer(self, *subs: dict[str, Any], name: str = "Test Co") -> dict[str, Any]:
        return dict(self.call("POST", "customers", {"company_name": name, "subscriptions": list(subs)}))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(seed=3, customers=20, page_size_cap=500)).start() as sb:
        yield sb


@pytest.fixture
def admin(sandbox: Sandbox) -> Iterator[Admin]:
    a = Admin(sandbox)
    yield a
    a.call("POST", "faults", {})
    a.call("PATCH", "config", {"page_size_cap": 500, "usage_page_size_cap": 2000, "cloud": "china"})
    a.http.close()


def settings_for(sb: Sandbox, **extra: Any) -> Settings:
    values = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "CSPGUARD_PC_TENANT_ID": sb.tenant_id,
        "CSPGUARD_PC_CLIENT_ID": sb.client_id,
        "CSPGUARD_PC_CLIENT_SECRET": sb.client_secret,
        "CSPGUARD_PC_BASE_URL": sb.base_url,
        "CSPGUARD_PC_AUTHORITY_HOST": sb.authority_host,
        "CSPGUARD_PC_CA_BUNDLE": str(sb.ca_pem_path),
        "CSPGUARD_PC_RATE_PER_MINUTE": 60_000,
        "CSPGUARD_PC_CUSTOMER_RATE_PER_MINUTE": 6_000,
        **extra,
    }
    return Settings(**values)


def client_for(sb: Sandbox, retry: RetryPolicy = FAST, **extra: Any) -> PartnerCenterClient:
    return PartnerCenterClient.from_settings(settings_for(sb, **extra), retry=retry)


LICENCE_WITH_ADDONS = (
    {"kind": "license", "quantity": 5},
    {"kind": "addon", "parent": 0},
    {"kind": "addon", "parent": 0},
)


async def test_msal_token_and_401_refresh(sandbox: Sandbox, admin: Admin) -> None:
    since = admin.last_call()
    async with client_for(sandbox) as client:
        customers = [c async for c in client.iter_customers()]
        assert len(customers) >= 20
        admin.call("POST", "faults", {"expire_tokens_now": True})
        assert (await client.get_customer(customers[0].id)).id == customers[0].id
    seen = [
        ("token" if c["path"].endswith("/token") else c["method"], c["status"])
        for c in admin.calls_since(since)
    ]
    # MSAL fetched a token; the 401 forced exactly one refresh and the call went through.
    assert seen == [("token", 200), ("GET", 200), ("GET", 401), ("token", 200), ("GET", 200)]


async def test_paging_across_many_pages(sandbox: Sandbox, admin: Admin) -> None:
    admin.call("PATCH", "config", {"page_size_cap": 3, "usage_page_size_cap": 50})
    expected = admin.call("GET", "state")["counts"]
    since = admin.last_call()
    async with client_for(sandbox) as client:
        ids = [c.id async for c in client.iter_customers(page_size=100)]
        pages = [len(p) async for p in client.unbilled_usage_pages(currency="CNY", page_size=1000)]
    assert len(ids) == len(set(ids)) == expected["customers"]
    calls = [c for c in admin.calls_since(since) if c["path"] == "/v1/customers"]
    assert len(calls) == -(-expected["customers"] // 3)
    assert all(c["status"] == 200 for c in calls)
    assert len(pages) > 2 and max(pages) <= 50 and sum(pages) > 0


async def test_suspend_and_reactivate_with_addons(sandbox: Sandbox, admin: Admin) -> None:
    made = admin.customer(*LICENCE_WITH_ADDONS)
    cid, (base, a1, a2) = made["id"], [s["id"] for s in made["subscriptions"]]
    async with client_for(sandbox) as client:
        since = admin.last_call()
        suspended = await client.suspend(cid, base)
        patched = [c["path"].rsplit("/", 1)[1] for c in admin.calls_since(since) if c["method"] == "PATCH"]
        assert patched[0] == base and sorted(patched[1:]) == sorted([a1, a2])
        assert [(r.before, r.after, r.ok) for r in suspended] == [("active", "suspended", True)] * 3
        state = admin.call("GET", f"state?customer={cid}")["customers"][0]["subscriptions"]
        assert {s["status"] for s in state} == {"suspended"}
        with pytest.raises(RestrictionError) as info:  # add-on before its parent: 27009
            await client.reactivate(cid, a1)
        assert info.value.code == "27009" and info.value.status == 409
        since = admin.last_call()
        reactivated = await client.reactivate(cid, base)
        patched = [c["path"].rsplit("/", 1)[1] for c in admin.calls_since(since) if c["method"] == "PATCH"]
        assert patched[0] == base and len(patched) == 3
        assert all(r.after == SubscriptionStatus.ACTIVE for r in reactivated)
        subs = await client.list_subscriptions(cid)
        assert {s.quantity for s in subs if s.id == base} == {5}  # nothing reset by the PATCHes


class RacingTransport(httpx.AsyncHTTPTransport):
    """Before the next ``races`` PATCHes, someone else touches the subscription (its etag changes)."""

    def __init__(self, admin: Admin, races: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.admin, self.races = admin, races

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH" and self.races > 0:
            self.races -= 1
            sid = request.url.path.rsplit("/", 1)[1]
            self.admin.call("PATCH", f"subscriptions/{sid}", {})  # same status, new etag
        return await super().handle_async_request(request)


def racing_client(sb: Sandbox, admin: Admin, races: int) -> PartnerCenterClient:
    http = httpx.AsyncClient(
        base_url=sb.base_url,
        transport=RacingTransport(
            admin, races, verify=ssl.create_default_context(cafile=str(sb.ca_pem_path))
        ),
    )
    return PartnerCenterClient.from_settings(settings_for(sb), retry=FAST, http=http)


async def test_etag_race_is_retried_once(sandbox: Sandbox, admin: Admin) -> None:
    made = admin.customer({"kind": "license"})
    cid, sid = made["id"], made["subscriptions"][0]["id"]
    async with racing_client(sandbox, admin, races=1) as client:
        [result] = await client.suspend(cid, sid)
    assert result.ok and result.etag_retries == 1
    async with racing_client(sandbox, admin, races=2) as client:
        with pytest.raises(EtagMismatch) as info:
            await client.reactivate(cid, sid)
    assert info.value.code == "2055"


async def test_documented_errors(sandbox: Sandbox, admin: Admin) -> None:
    made = admin.customer(
        {"kind": "azure_plan", "entitlements": ["active"]},
        {"kind": "license", "status": "suspended"},
        {"kind": "license", "status": "deleted"},
    )
    cid, (plan, suspended, deleted) = made["id"], [s["id"] for s in made["subscriptions"]]
    async with client_for(sandbox) as client:
        with pytest.raises(RestrictionError) as info:
            await client.suspend(cid, plan)
        assert (info.value.code, info.value.status) == ("900115", 403)
        with pytest.raises(RestrictionError) as info:
            await client.suspend(cid, deleted)
        assert info.value.code == "2011"
        sub = (await client.get_subscription(cid, suspended)).model_dump(by_alias=True, mode="json")
        from shared.partner_center._transport import build_call  # an edit the client never makes itself

        edit = build_call(
            "PATCH",
            "/v1/customers/{customer_id}/subscriptions/{subscription_id}",
            {"customer_id": cid, "subscription_id": suspended},
            json={**sub, "quantity": 9},
            headers={"If-Match": f'"{sub["attributes"]["etag"]}"'},
        )
        with pytest.raises(RestrictionError) as info:
            await client.transport.send(edit)
        assert info.value.code == "800091" and info.value.request_id
        with pytest.raises(NotFound):
            await client.get_customer("00000000-0000-0000-0000-000000000000")


async def test_429_retry_after_is_honoured(sandbox: Sandbox, admin: Admin) -> None:
    admin.call("POST", "faults", {"storm_429": 2, "storm_retry_after": 1})
    since = admin.last_call()
    async with client_for(sandbox) as c:
        assert len([x async for x in c.iter_customers()]) >= 20
    calls = admin.calls_since(since, api_only=True)
    assert [x["status"] for x in calls[:3]] == [429, 429, 200]
    at = [datetime.fromisoformat(x["at"].replace("Z", "+00:00")) for x in calls[:3]]
    assert all((b - a).total_seconds() >= 0.9 for a, b in itertools.pairwise(at))  # waited Retry-After
    assert len({x["requestId"] for x in calls[:3]}) == 3  # a throttled call was not processed: new id
    assert {x["contractVersion"] for x in calls} == {"v1"}


async def test_a_429_storm_fails_no_call_and_retries_go_first(sandbox: Sandbox, admin: Admin) -> None:
    """Many listings in parallel through a storm: 429s never use up the (small) attempt budget, and
    a throttled listing is retried before listings that had not started yet."""
    ids = [c["id"] for c in admin.call("GET", "state?limit=20")["customers"]]
    admin.call("POST", "faults", {"storm_429": 6, "storm_retry_after": 1})
    since = admin.last_call()
    strict = RetryPolicy(max_attempts=2, backoff_initial=0.01, backoff_max=0.05, jitter=0.01)
    async with client_for(sandbox, retry=strict, CSPGUARD_PC_MAX_CONCURRENCY=4) as client:
        listed = await asyncio.gather(*(client.list_subscriptions(cid) for cid in ids))
        cut = client.transport.pacer.rate()
    assert all(listed)  # every customer has subscriptions; none failed for good
    calls = admin.calls_since(since, api_only=True)
    assert sum(c["status"] == 429 for c in calls) == 6
    assert cut < 60_000  # the pacer slowed down
    first_try: dict[str, int] = {}
    for c in calls:
        first_try.setdefault(c["path"], c["seq"])
    throttled = [c for c in calls if c["status"] == 429]
    last_storm = throttled[-1]["seq"]
    fresh_after_storm = [c for c in calls if c["seq"] > last_storm and first_try[c["path"]] == c["seq"]]
    retries = [c for c in calls if c["seq"] > last_storm and first_try[c["path"]] != c["seq"]]
    # After the storm, every pending retry is sent before any listing that had not been tried yet.
    assert retries and max(c["seq"] for c in retries) < min(c["seq"] for c in fresh_after_storm)


async def test_only_timeouts_reuse_the_request_id(sandbox: Sandbox, admin: Admin) -> None:
    admin.call("POST", "faults", {"seed": 5, "error_rate": 0.3, "timeout_rate": 0.2, "timeout_seconds": 1.0})
    ids = [c["id"] for c in admin.call("GET", "state?limit=6")["customers"]]
    since = admin.last_call()
    retry = RetryPolicy(max_attempts=8, backoff_initial=0.01, backoff_max=0.05, jitter=0.01)
    async with client_for(sandbox, retry=retry, CSPGUARD_PC_TIMEOUT_SECONDS=0.4) as client:
        for cid in ids:
            assert (await client.get_customer(cid)).id == cid
    calls = admin.calls_since(since, api_only=True)
    faulted = [c for c in calls if c["fault"] in ("error", "timeout")]
    assert {c["fault"] for c in faulted} == {"error", "timeout"}, "the seed must inject both kinds"
    for c in faulted:
        later = [x for x in calls if x["seq"] > c["seq"] and x["path"] == c["path"]]
        same = later[0]["requestId"] == c["requestId"]
        assert same is (c["fault"] == "timeout")  # a 5xx was an answer: the retry has a new id


async def test_unknown_status_values(sandbox: Sandbox, admin: Admin) -> None:
    made = admin.customer({"kind": "license"}, {"kind": "license"}, {"kind": "license"})
    cid, sids = made["id"], [s["id"] for s in made["subscriptions"]]
    for sid, status in zip(sids, ("expired", "disabled", "quarantined"), strict=True):
        admin.call("PATCH", f"subscriptions/{sid}", {"status": status})
    async with client_for(sandbox) as client:
        subs = {s.id: s.status for s in await client.list_subscriptions(cid)}
    assert subs[sids[0]] is SubscriptionStatus.EXPIRED and subs[sids[1]] is SubscriptionStatus.DISABLED
    assert subs[sids[2]] == "quarantined" and not subs[sids[2]].is_known


async def test_fraud_events_in_the_global_cloud(sandbox: Sandbox, admin: Admin, tmp_path: Path) -> None:
    """Fraud events need App+User: refused app-only (client and sandbox alike), then through MSAL's
    refresh-token grant with the token rotating in the configured directory."""
    admin.call("PATCH", "config", {"cloud": "global"})
    async with client_for(sandbox, CSPGUARD_PC_CLOUD="global") as app_only:
        with pytest.raises(AuthError, match="CSPGUARD_PC_REFRESH_TOKEN_DIR"):
            await app_only.list_fraud_events()
    token, _ = sandbox.state.issue_token(sandbox.tenant_id, sandbox.client_id)  # an app-only token
    headers = {"Authorization": f"Bearer {token}", "MS-Contract-Version": "v1"}
    refused = admin.http.get("/v1/fraudEvents", headers=headers)
    assert refused.status_code == 403 and "App+User" in refused.json()["description"]
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    first = admin.call("POST", "consent")["refresh_token"]
    (secrets / "pc-refresh-token").write_text(first)
    settings = {"CSPGUARD_PC_CLOUD": "global", "CSPGUARD_PC_REFRESH_TOKEN_DIR": str(secrets)}
    async with client_for(sandbox, **settings) as client:
        events = await client.list_fraud_events()  # the sandbox serves a bare array, as documented
        assert events and events[0].subscription_id, "the seeded sandbox has fraud events"
        event = events[0]
        assert event.event_id and event.customer_tenant_id and event.first_occurrence and event.last_occurrence
        updated = await client.update_fraud_event_status(event.subscription_id or "", "Investigating")
        assert updated and all(e.event_status is FraudEventStatus.INVESTIGATING for e in updated)
        assert all(e.subscription_id == event.subscription_id for e in updated)
        resolved = await client.update_fraud_event_status(
            event.subscription_id or "", "Resolved", event_ids=[event.event_id or ""], resolved_reason="Fraud"
        )
        assert [(e.event_id, e.resolved_reason) for e in resolved] == [(event.event_id, "Fraud")]
        still_open = await client.list_fraud_events("Investigating", subscription_id=event.subscription_id)
        assert event.event_id not in {e.event_id for e in still_open}
    rotated = (secrets / "pc-refresh-token").read_text()
    assert rotated and rotated != first  # each exchange returns a new refresh token, stored for next time


def test_cli_lists_customers_and_reports_bad_credentials(sandbox: Sandbox, admin: Admin) -> None:
    from cli.main import app

    env = {k: str(v) for k, v in settings_for(sandbox).model_dump(by_alias=True).items() if v is not None}
    env["CSPGUARD_PC_CLIENT_SECRET"] = sandbox.client_secret
    runner = CliRunner()
    result = runner.invoke(app, ["pc", "customers", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) >= 20
    cid = json.loads(result.stdout)[0]["id"]
    table = runner.invoke(app, ["pc", "subscriptions", cid], env=env)
    assert table.exit_code == 0 and "subscriptions of" in table.stdout
    bad = runner.invoke(app, ["pc", "customers"], env={**env, "CSPGUARD_PC_CLIENT_SECRET": "wrong"})
    assert bad.exit_code == 1
    assert "authentication failed" in bad.output and "Traceback" not in bad.output
