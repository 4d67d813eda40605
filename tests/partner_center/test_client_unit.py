"""The client over httpx.MockTransport: headers, retries, request ids, paging, 401 refresh, logging."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable

import httpx
import pytest

from shared.observability import correlation_scope
from shared.partner_center import (
    GLOBAL,
    AuthError,
    CapabilityNotAvailable,
    FraudEventStatus,
    NotFound,
    PartnerCenterClient,
    ServerError,
    SubscriptionStatus,
    TransportError,
    correlation,
    ms_correlation_id,
)
from shared.partner_center._headers import _CORRELATION_NAMESPACE as NAMESPACE
from tests.partner_center.conftest import FakeTokens, Sleeps, page

MakeClient = Callable[..., PartnerCenterClient]


def customer(i: int) -> dict[str, object]:
    return {
        "id": f"c{i}",
        "companyProfile": {"companyName": f"Co {i}"},
        "attributes": {"objectType": "Customer"},
    }


async def test_headers_and_paging(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        token = request.headers.get("MS-ContinuationToken")
        if token is None:
            return httpx.Response(200, json=page([customer(0), customer(1)], "/customers?seek=Next", "t1"))
        if token == "t1":
            return httpx.Response(200, json=page([customer(2)], "customers?seek=Next", "t2"))
        return httpx.Response(200, json=page([customer(3)]))

    async with make_client(handler) as client:
        with correlation("job-1"):
            ids = [c.id async for c in client.iter_customers(page_size=2)]
    assert ids == ["c0", "c1", "c2", "c3"]
    assert [r.url.path for r in seen] == ["/v1/customers"] * 3
    assert seen[0].url.params["size"] == "2"
    assert seen[1].url.params["seek"] == "Next"
    first = seen[0].headers
    assert first["Authorization"] == "Bearer token-1"
    assert first["Accept"] == "application/json"
    assert first["MS-CorrelationId"] == ms_correlation_id("job-1") == str(uuid.uuid5(NAMESPACE, "job-1"))
    assert first["MS-Contract-Version"] == "v1"
    uuid.UUID(first["MS-RequestId"])
    assert len({r.headers["MS-RequestId"] for r in seen}) == 3
    assert {r.headers["MS-CorrelationId"] for r in seen} == {first["MS-CorrelationId"]}


async def test_the_journey_correlation_id_is_sent(make_client: MakeClient) -> None:
    """The app's journeys (HTTP request, timer run, queue message) run in observability's scope."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["MS-CorrelationId"])
        listing = request.url.path.endswith("/subscriptions")
        return httpx.Response(200, json=page([]) if listing else customer(0))

    guid = str(uuid.uuid4())
    async with make_client(handler) as client:
        with correlation_scope(guid):
            await client.get_customer("c0")
        with correlation_scope("timer:sweep:run-1"):
            await client.list_subscriptions("c0")
            await client.list_subscriptions("c1")
        await client.get_customer("c0")  # outside any journey: the client's own id
        await client.get_customer("c0")
    assert seen[0] == guid  # a GUID journey id is sent as is
    assert seen[1] == seen[2] == ms_correlation_id("timer:sweep:run-1")
    assert seen[3] == seen[4] == client.transport.correlation_id
    assert len(set(seen)) == 3


async def test_customers_listing_sends_the_required_size(make_client: MakeClient) -> None:
    sizes: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sizes.append(request.url.params.get("size"))
        return httpx.Response(200, json=page([customer(0)]))

    async with make_client(handler) as client:
        assert [c.id async for c in client.iter_customers()] == ["c0"]
    assert sizes == ["500"]


async def test_only_timeouts_retry_with_the_same_request_id(
    make_client: MakeClient, sleeps: Sleeps
) -> None:
    ids: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        ids.append(request.headers["MS-RequestId"])
        if len(ids) == 1:
            return httpx.Response(503, json={"code": "x", "description": "busy"})
        if len(ids) == 2:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json=customer(7))

    async with make_client(handler) as client:
        assert (await client.get_customer("c7")).name == "Co 7"
    assert len(ids) == 3
    assert ids[0] != ids[1]  # the 503 was an answer: new MS-RequestId
    assert ids[1] == ids[2]  # the timeout had none: the retry reuses it
    assert len(sleeps.delays) == 2


async def test_a_refusal_after_a_timed_out_attempt_says_the_first_may_have_applied(
    make_client: MakeClient, sleeps: Sleeps
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ReadTimeout("slow", request=request)  # processed or not: nobody knows
        return httpx.Response(409, json={"code": 1, "description": "a change is in progress"})

    async with make_client(handler) as client:
        with pytest.raises(Exception) as info:
            await client.get_customer("c1")
    assert calls == 2 and info.value.maybe_applied_earlier  # type: ignore[attr-defined]

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json={"code": 1, "description": "no"})

    async with make_client(refuse) as client:
        with pytest.raises(Exception) as info:
            await client.get_customer("c1")
    assert not info.value.maybe_applied_earlier  # type: ignore[attr-defined]


async def test_429_retries_with_a_new_request_id(make_client: MakeClient, sleeps: Sleeps) -> None:
    ids: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        ids.append(request.headers["MS-RequestId"])
        if len(ids) == 1:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"statusCode": 429, "message": "x"})
        return httpx.Response(200, json=page([]))

    async with make_client(handler) as client:
        assert await client.list_subscriptions("c1") == []
        assert client.transport.throttled_responses == 1
    assert len(set(ids)) == 2
    assert sleeps.delays == [0.0]  # the pacer, not the retry loop, waits out Retry-After


async def test_connection_errors_become_transport_errors(make_client: MakeClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with make_client(handler) as client:
        with pytest.raises(TransportError) as info:
            await client.get_customer("c1")
    assert info.value.request_id


@pytest.mark.parametrize("status", [400, 403, 404, 409])
async def test_client_errors_are_not_retried(make_client: MakeClient, status: int) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status, json={"code": 1, "description": "no"})

    async with make_client(handler) as client:
        with pytest.raises(Exception) as info:
            await client.get_customer("c1")
    assert calls == 1
    assert info.value.status == status  # type: ignore[attr-defined]


async def test_401_forces_one_token_refresh(make_client: MakeClient, tokens: FakeTokens) -> None:
    auths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auths.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer token-1":
            return httpx.Response(401, json={"code": "401", "description": "expired"})
        return httpx.Response(200, json=customer(1))

    async with make_client(handler) as client:
        await client.get_customer("c1")
    assert auths == ["Bearer token-1", "Bearer token-2"]
    assert tokens.forced == 1


async def test_persistent_401_is_an_auth_error(make_client: MakeClient, tokens: FakeTokens) -> None:
    from shared.partner_center import AuthError

    async with make_client(lambda r: httpx.Response(401, json={})) as client:
        with pytest.raises(AuthError):
            await client.get_customer("c1")
    assert tokens.forced == 1


async def test_path_params_are_quoted_and_404_maps(make_client: MakeClient) -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(404, json={"code": 600008, "description": "missing"})

    async with make_client(handler) as client:
        with pytest.raises(NotFound):
            await client.get_subscription("a/b", "s 1")
    assert paths == ["/v1/customers/a%2Fb/subscriptions/s%201"]


async def test_logs_name_the_template_never_the_token(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_client(lambda r: httpx.Response(500, json={})) as client:
        with caplog.at_level(logging.INFO, logger="cspguard.partner_center"), pytest.raises(ServerError):
            await client.get_subscription("cust", "sub")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/v1/customers/{customer_id}/subscriptions/{subscription_id}" in text
    assert "request_id=" in text and "-> 500" in text
    assert "token-1" not in text and "Bearer" not in text
    record = next(r for r in caplog.records if r.name == "cspguard.partner_center" and hasattr(r, "pc_status"))
    assert record.pc_status == 500 and record.pc_path.startswith("/v1/customers/")  # type: ignore[attr-defined]


async def test_unbilled_usage_streams_pages(make_client: MakeClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "MS-ContinuationToken" not in request.headers:
            assert request.url.params["invoicelineitemtype"] == "usagelineitems"
            items = [{"subscriptionId": "s1", "quantity": 1.5, "customerId": "c1"}]
            return httpx.Response(200, json=page(items, "/invoices/unbilled/lineitems?x=1", "n"))
        return httpx.Response(200, json=page([{"subscriptionId": "s2", "quantity": "2"}]))

    async with make_client(handler) as client:
        pages = [p async for p in client.unbilled_usage_pages(currency="CNY")]
        items = [i async for i in client.unbilled_usage()]
    assert [len(p) for p in pages] == [1, 1]
    assert [i.subscription_id for i in items] == ["s1", "s2"]
    assert float(items[0].quantity or 0) == 1.5


DOCUMENTED_EVENT = {
    "eventId": "e1",
    "customerTenantId": "t1",
    "subscriptionId": "s",
    "eventStatus": "investigating",
    "firstOccurrence": "2026-11-01T06:00:00Z",
    "lastOccurrence": "2026-11-03T06:00:00Z",
    "hitCount": "3",
}


@pytest.mark.parametrize("shape", ["bare array", "collection"])
async def test_fraud_events_only_in_global(make_client: MakeClient, shape: str) -> None:
    bodies: list[dict[str, object]] = []
    queries: list[dict[str, str]] = []
    auths: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        auths.add(request.headers["Authorization"])
        if request.method == "POST":
            bodies.append(json.loads(request.content))
            answer = [{**DOCUMENTED_EVENT, "eventStatus": "Resolved", "resolvedReason": "Fraud"}]
        else:
            queries.append(dict(request.url.params))
            answer = [DOCUMENTED_EVENT]
        return httpx.Response(200, json=answer if shape == "bare array" else page(answer))

    async with make_client(handler) as china:
        with pytest.raises(CapabilityNotAvailable):
            await china.list_fraud_events()
        with pytest.raises(CapabilityNotAvailable):
            await china.update_fraud_event_status("s", "Resolved")
    async with make_client(handler, profile=GLOBAL) as app_only:
        with pytest.raises(AuthError, match="App\\+User"):
            await app_only.list_fraud_events()
    user = FakeTokens()
    user.issued = 100
    async with make_client(handler, profile=GLOBAL, user_credential=user) as client:
        events = await client.list_fraud_events("active", subscription_id="s")
        await client.update_fraud_event_status("s", "investigating")
        updated = await client.update_fraud_event_status("s", "resolved", event_ids=["e1"], resolved_reason="Fraud")
    event = events[0]
    assert (event.event_id, event.customer_tenant_id, event.subscription_id) == ("e1", "t1", "s")
    assert event.event_status == "Investigating" and event.hit_count == 3
    assert event.first_occurrence and event.last_occurrence and event.occurred_at == event.last_occurrence
    assert queries == [{"EventStatus": "Active", "SubscriptionId": "s"}]
    assert auths == {"Bearer token-100"}  # fraud events go with the App+User token only
    assert bodies == [
        {"EventStatus": "Investigating"},
        {"EventStatus": "Resolved", "EventIds": ["e1"], "ResolvedReason": "Fraud"},
    ]
    assert updated[0].event_status is FraudEventStatus.RESOLVED and updated[0].resolved_reason == "Fraud"


def test_the_detection_model_reads_the_documented_event() -> None:
    from shared.fraud import FraudEvent as DetectionEvent

    event = DetectionEvent.model_validate(DOCUMENTED_EVENT)
    assert (event.event_id, event.customer_tenant_id, event.subscription_id) == ("e1", "t1", "s")
    assert event.first_occurrence and event.last_occurrence
    assert event.event_time == event.last_occurrence  # no eventTime sent: the last occurrence


async def test_unknown_status_values_pass_through(make_client: MakeClient) -> None:
    items = [{"id": "s1", "status": "quarantined"}, {"id": "s2", "status": "Expired"}]
    async with make_client(lambda r: httpx.Response(200, json=page(items))) as client:
        subs = await client.list_subscriptions("c")
    assert subs[0].status == "quarantined" and not subs[0].status.is_known
    assert subs[1].status is SubscriptionStatus.EXPIRED


async def test_concurrency_is_bounded_by_max_concurrency(make_client: MakeClient) -> None:
    in_flight, peak = 0, 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return httpx.Response(200, json=customer(1))

    async with make_client(handler, max_concurrency=3) as client:
        await asyncio.gather(*(client.get_customer(f"c{i}") for i in range(12)))
        assert client.transport.requests_sent == 12
    assert peak == 3
