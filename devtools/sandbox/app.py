"""The sandbox's HTTP surface: Entra-like token endpoints, the /v1 API and /_sandbox admin.

Every /v1 call passes the same gate, in this order: call log, bearer token (401), the documented
required header MS-Contract-Version (400), limits per partner tenant and per (partner, customer)
pair (429), injected faults, then the handler.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devtools.sandbox import admin
from devtools.sandbox import resources as res
from devtools.sandbox.config import ConfigPatch, FaultConfig
from devtools.sandbox.entra import instance_discovery, openid_configuration, token
from devtools.sandbox.store import ApiError, Store

Handler = Callable[[Request, Store], Awaitable[Response]]
FRAUD_STATUSES = ("Active", "Investigating", "Resolved")


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


# ---- the /v1 gate ------------------------------------------------------------------------------
def _json_error(e: ApiError) -> JSONResponse:
    return JSONResponse(e.body, e.status, headers=e.headers)


def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        store = _store(request)
        entry = store.log_call(request.method, request.url.path, request.url.query, request.headers)
        resp = await _gate(request, store, handler, entry)
        entry["status"] = resp.status_code
        for name in ("MS-RequestId", "MS-CorrelationId"):
            if name in request.headers:
                resp.headers[name] = request.headers[name]
        return resp

    return endpoint


async def _gate(request: Request, store: Store, handler: Handler, entry: dict[str, Any]) -> Response:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    record = store.authenticate(value.strip()) if scheme.lower() == "bearer" else None
    if record is None:
        err = ApiError(
            401,
            res.error(401, "Authorization token is missing, expired or invalid."),
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
        return _json_error(err)
    if store.config.require_contract_version and not request.headers.get("ms-contract-version"):
        return _json_error(ApiError(400, res.error(400, "The MS-Contract-Version header is required.")))
    request.state.token = record
    entry["customerId"] = request.path_params.get("customer_id")
    wait = store.throttle(record.tenant, request.path_params.get("customer_id"))
    if wait is not None:
        entry["fault"] = "throttled"
        return JSONResponse(res.throttled(wait), 429, headers={"Retry-After": str(wait)})
    fault = store.next_fault()
    entry["fault"] = fault.kind
    if fault.kind != "timeout" and fault.latency:
        await asyncio.sleep(fault.latency)
    if fault.kind == "storm_429":
        ra = store.config.faults.storm_retry_after
        return JSONResponse(res.throttled(ra), 429, headers={"Retry-After": str(ra)})
    if fault.kind == "error":
        text = (
            "An internal error occurred."
            if fault.status == 500
            else "The service is temporarily unavailable."
        )
        return JSONResponse(res.error(fault.status, text), fault.status)
    try:
        resp = await handler(request, store)
    except ApiError as e:
        resp = _json_error(e)
    if fault.kind == "timeout":  # the work is done; the answer arrives after the client gave up
        await asyncio.sleep(fault.latency)
    return resp


def _size(raw: str | None, default: int, cap: int) -> int:
    if raw is None:
        return min(default, cap)
    try:
        size = int(raw)
    except ValueError:
        raise ApiError(400, res.error(400, f"size '{raw}' is not a number.")) from None
    if size < 1:
        raise ApiError(400, res.error(400, "size must be positive."))
    return min(size, cap)


def paged(
    request: Request,
    store: Store,
    kind: str,
    fetch: Callable[[Any, int], tuple[list[Any], Any]],
    cap: int,
    query: dict[str, str] | None = None,
) -> Response:
    """Seek-based paging: links.next has a relative uri with seekOperation=Next and the
    MS-ContinuationToken header that the next request must send back."""
    q = request.query_params
    size = _size(q.get("size"), cap, cap)
    cursor, page = None, 0
    if q.get("seekOperation", "").lower() == "next":
        rec = store.page_token(request.headers.get("ms-continuationtoken"), kind)
        cursor, page = rec.cursor, rec.page
        size = _size(q.get("size"), rec.size, cap)
    items, nxt = fetch(cursor, size)
    next_link = None
    if nxt is not None:
        tok = store.new_page_token(kind, nxt, size, page + 1)
        prefix = "" if store.config.next_without_v1 and page % 2 == 0 else "/v1"
        path = request.url.path.removeprefix("/v1")
        uri = f"{prefix}{path}?{urlencode({**(query or {}), 'size': size, 'seekOperation': 'Next'})}"
        next_link = res.link(uri, [{"key": "MS-ContinuationToken", "value": tok}])
    self_uri = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return JSONResponse(res.collection(items, self_uri, next_link))


# ---- /v1 handlers ------------------------------------------------------------------------------
async def list_customers(request: Request, store: Store) -> Response:
    if store.config.require_customer_page_size and "size" not in request.query_params:
        raise ApiError(400, res.error(400, "The size query parameter is required."))
    return paged(
        request, store, "customers", lambda c, n: store.customer_page(c or 0, n), store.config.page_size_cap
    )


async def get_customer(request: Request, store: Store) -> Response:
    return JSONResponse(res.customer(store.customer(request.path_params["customer_id"])))


async def list_subscriptions(request: Request, store: Store) -> Response:
    cid = request.path_params["customer_id"]
    store.customer(cid)
    return paged(
        request,
        store,
        f"subscriptions:{cid.lower()}",
        lambda c, n: store.subscription_page(cid, c or 0, n),
        store.config.page_size_cap,
    )


async def get_subscription(request: Request, store: Store) -> Response:
    p = request.path_params
    return JSONResponse(store.sub_json(store.subscription(p["customer_id"], p["subscription_id"])))


async def patch_subscription(request: Request, store: Store) -> Response:
    p = request.path_params
    try:
        body = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError:
        raise ApiError(400, res.error(400, "The request body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise ApiError(400, res.error(400, "The request body must be a subscription resource."))
    out = store.patch_subscription(
        p["customer_id"], p["subscription_id"], body, request.headers.get("if-match")
    )
    return JSONResponse(out)


async def list_addons(request: Request, store: Store) -> Response:
    p = request.path_params
    return JSONResponse(
        res.collection(store.addons(p["customer_id"], p["subscription_id"]), request.url.path)
    )


async def list_entitlements(request: Request, store: Store) -> Response:
    p = request.path_params
    items = store.entitlements(p["customer_id"], p["subscription_id"])
    return JSONResponse(res.collection(items, request.url.path))


async def _entitlement_change(request: Request, store: Store, action: str) -> Response:
    p = request.path_params
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        raise ApiError(400, res.error(400, "The request body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise ApiError(400, res.error(400, "The request body must be a JSON object."))
    store.change_entitlement(p["customer_id"], p["subscription_id"], p["entitlement_id"], action, body)
    return Response(status_code=202)


async def cancel_entitlement(request: Request, store: Store) -> Response:
    return await _entitlement_change(request, store, "cancel")


async def reactivate_entitlement(request: Request, store: Store) -> Response:
    return await _entitlement_change(request, store, "reactivate")


async def list_invoices(request: Request, store: Store) -> Response:
    return JSONResponse(res.collection(store.invoices, request.url.path))


async def get_invoice(request: Request, store: Store) -> Response:
    inv = next((i for i in store.invoices if i["id"] == request.path_params["invoice_id"]), None)
    if inv is None:
        raise ApiError(404, res.error(404, f"Invoice {request.path_params['invoice_id']} was not found."))
    return JSONResponse(inv)


async def unbilled_usage(request: Request, store: Store) -> Response:
    q = request.query_params
    if (
        q.get("provider", "").lower() != "onetime"
        or q.get("invoicelineitemtype", "").lower() != "usagelineitems"
    ):
        raise ApiError(
            400, res.error(400, "provider=onetime and invoicelineitemtype=usagelineitems are required.")
        )
    period, ccy = q.get("period", "").lower(), q.get("currencycode", "")
    if period not in ("current", "previous") or not ccy:
        raise ApiError(400, res.error(400, "period (current|previous) and currencycode are required."))
    query = {
        "provider": "onetime",
        "invoicelineitemtype": "usagelineitems",
        "currencycode": ccy,
        "period": period,
    }
    empty = period != "current" or ccy.upper() != store.config.currency

    def fetch(cursor: Any, n: int) -> tuple[list[Any], Any]:
        return ([], None) if empty else store.usage_page(cursor, n)

    return paged(
        request, store, f"usage:{ccy.upper()}:{period}", fetch, store.config.usage_page_size_cap, query
    )


def _global_only(store: Store) -> None:
    if store.config.cloud != "global":
        raise ApiError(404, res.error(404, "The resource was not found."))


def _app_plus_user(request: Request) -> None:
    """Fraud events are documented for App+User authentication only."""
    if not request.state.token.delegated:
        raise ApiError(403, res.error(403, "This operation requires App+User (delegated) authentication."))


def _query(request: Request, name: str) -> str | None:
    """A query parameter by case-insensitive name (the docs spell them EventStatus, SubscriptionId)."""
    return next((v for k, v in request.query_params.items() if k.lower() == name.lower()), None)


async def list_fraud_events(request: Request, store: Store) -> Response:
    """Served as a bare JSON array, as Partner Center's documented sample is."""
    _global_only(store)
    _app_plus_user(request)
    status, sub = _query(request, "EventStatus"), _query(request, "SubscriptionId")
    items = [
        dict(e)
        for e in store.fraud_events
        if (not status or e["eventStatus"].lower() == status.lower())
        and (not sub or e["subscriptionId"].lower() == sub.lower())
    ]
    return JSONResponse(items)


async def set_fraud_status(request: Request, store: Store) -> Response:
    """Body ``{"EventIds": [...], "EventStatus": ..., "ResolvedReason": ...}`` (any case); no EventIds:
    every event of the subscription."""
    _global_only(store)
    _app_plus_user(request)
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        raise ApiError(400, res.error(400, "The request body is not valid JSON.")) from None
    fields = {str(k).lower(): v for k, v in body.items()} if isinstance(body, dict) else {}
    status = _query(request, "EventStatus") or fields.get("eventstatus")
    match = next((s for s in FRAUD_STATUSES if s.lower() == str(status).lower()), None)
    if match is None:
        raise ApiError(400, res.error(400, f"EventStatus must be one of {', '.join(FRAUD_STATUSES)}."))
    ids = fields.get("eventids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise ApiError(400, res.error(400, "EventIds must be a list of event ids."))
    reason = fields.get("resolvedreason")
    items = store.set_fraud_status(request.path_params["subscription_id"], match, ids, reason)
    return JSONResponse(items)


# ---- /_sandbox admin ---------------------------------------------------------------------------
def admin_route(fn: Callable[[Request, Store], Awaitable[Any]]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await fn(request, _store(request)))
        except ValidationError as e:
            return JSONResponse({"error": "invalid body", "details": json.loads(e.json())}, 422)
        except json.JSONDecodeError:
            return JSONResponse({"error": "invalid JSON"}, 400)
        except ApiError as e:
            return _json_error(e)

    return endpoint


async def _body(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw else {}


async def a_state(request: Request, store: Store) -> Any:
    return admin.state(
        store, request.query_params.get("customer"), int(request.query_params.get("limit", 1000))
    )


async def a_truth(request: Request, store: Store) -> Any:
    return admin.truth(store)


async def a_calls(request: Request, store: Store) -> Any:
    return {"calls": store.calls_since(int(request.query_params.get("since", 0))), "last": store.call_seq}


async def a_faults(request: Request, store: Store) -> Any:
    body = await _body(request)
    expire = bool(body.pop("expire_tokens_now", False))
    store.set_faults(FaultConfig.model_validate(body))
    return {
        "faults": store.config.faults.model_dump(),
        "expiredTokens": store.expire_tokens() if expire else 0,
    }


async def a_reset(request: Request, store: Store) -> Any:
    body = await _body(request)
    store.reset(body.get("seed"), body.get("customers"))
    return {"seed": store.config.seed, "customers": len(store.customers)}


async def a_customers(request: Request, store: Store) -> Any:
    return admin.add_customer(store, admin.NewCustomer.model_validate(await _body(request)))


async def a_usage(request: Request, store: Store) -> Any:
    body = await _body(request)
    items = body.get("items", []) if isinstance(body, dict) else body
    return {"extraUsageItems": admin.add_usage(store, [admin.UsageItem.model_validate(i) for i in items])}


async def a_config(request: Request, store: Store) -> Any:
    patch = ConfigPatch.model_validate(await _body(request))
    store.update_config(patch.model_dump(exclude_none=True))
    return store.config.model_dump(mode="json", exclude={"client_secret"})


async def a_consent(request: Request, store: Store) -> Any:
    """Stands for a user's App+User consent: a first refresh token for the sandbox's app."""
    return {"refresh_token": store.consent(store.config.client_id)}


async def a_subscription(request: Request, store: Store) -> Any:
    tweak = admin.SubscriptionTweak.model_validate(await _body(request))
    return admin.tweak_subscription(store, request.path_params["subscription_id"], tweak)


def build_app(store: Store) -> Starlette:
    sub = "/v1/customers/{customer_id}/subscriptions/{subscription_id}"
    routes = [
        Route("/common/discovery/instance", instance_discovery, methods=["GET"]),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
        Route("/v1/customers", api(list_customers), methods=["GET"]),
        Route("/v1/customers/{customer_id}", api(get_customer), methods=["GET"]),
        Route("/v1/customers/{customer_id}/subscriptions", api(list_subscriptions), methods=["GET"]),
        Route(sub, api(get_subscription), methods=["GET"]),
        Route(sub, api(patch_subscription), methods=["PATCH"]),
        Route(sub + "/addons", api(list_addons), methods=["GET"]),
        Route(sub + "/azureEntitlements", api(list_entitlements), methods=["GET"]),
        Route(sub + "/azureEntitlements/{entitlement_id}/cancel", api(cancel_entitlement), methods=["POST"]),
        Route(
            sub + "/azureEntitlements/{entitlement_id}/reactivate", api(reactivate_entitlement), methods=["POST"]
        ),
        Route("/v1/invoices", api(list_invoices), methods=["GET"]),
        Route("/v1/invoices/unbilled/lineitems", api(unbilled_usage), methods=["GET"]),
        Route("/v1/invoices/{invoice_id}", api(get_invoice), methods=["GET"]),
        Route("/v1/fraudEvents", api(list_fraud_events), methods=["GET"]),
        Route(
            "/v1/fraudEvents/subscription/{subscription_id}/status", api(set_fraud_status), methods=["POST"]
        ),
        Route("/_sandbox/state", admin_route(a_state), methods=["GET"]),
        Route("/_sandbox/truth", admin_route(a_truth), methods=["GET"]),
        Route("/_sandbox/calls", admin_route(a_calls), methods=["GET"]),
        Route("/_sandbox/faults", admin_route(a_faults), methods=["POST"]),
        Route("/_sandbox/reset", admin_route(a_reset), methods=["POST"]),
        Route("/_sandbox/customers", admin_route(a_customers), methods=["POST"]),
        Route("/_sandbox/usage", admin_route(a_usage), methods=["POST"]),
        Route("/_sandbox/config", admin_route(a_config), methods=["PATCH"]),
        Route("/_sandbox/consent", admin_route(a_consent), methods=["POST"]),
        Route("/_sandbox/subscriptions/{subscription_id}", admin_route(a_subscription), methods=["PATCH"]),
    ]
    app = Starlette(routes=routes)
    app.state.store = store
    return app
