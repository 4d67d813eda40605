"""Helpers shared by the HTTP adapters: JSON responses, readable 4xx errors and the one error -> answer mapping."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import azure.functions as func

from shared.permissions import GRANTS, Permission

if TYPE_CHECKING:
    from shared.auth import Principal


def json_response(data: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(data, default=str, ensure_ascii=False), status_code=status,
                             mimetype="application/json", charset="utf-8")


def error(status: int, message: str, **details: Any) -> func.HttpResponse:
    """A 4xx/5xx with a body that says what is wrong."""
    return json_response({"error": message, **details}, status)


MAX_JSON_DEPTH = 20
"""No operator body or payment event nests deeper; deeper JSON is refused before it is parsed."""


def _too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when brackets nest deeper than ``limit`` outside strings (a linear scan: no recursion to exhaust)."""
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def json_body(req: func.HttpRequest) -> tuple[Any, func.HttpResponse | None]:
    """Parse the request body as JSON, or return a 400 saying why not."""
    if _too_deep(req.get_body() or b""):
        return None, error(400, f"request body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return req.get_json(), None
    except (ValueError, RecursionError) as exc:
        return None, error(400, f"request body is not valid JSON: {exc}")


def only_fields(data: Any, allowed: set[str] | frozenset[str]) -> func.HttpResponse | None:
    """A 400 naming the fields of a JSON object body that the route does not know (a typo must never be
    silently ignored), or a 400 when the body is not an object; None when the body is acceptable."""
    if not isinstance(data, dict):
        return error(400, "expected a JSON object")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        return error(400, f"unknown field(s): {', '.join(unknown)}; this route accepts {', '.join(sorted(allowed))}",
                     unknown_fields=unknown)
    return None


def no_body(req: func.HttpRequest) -> func.HttpResponse | None:
    """A 400 when a route that takes no body gets one: ``{"dry_run": true}`` must not start a real run."""
    raw = req.get_body()
    if not raw or not raw.strip():
        return None
    data, bad = json_body(req)
    return bad or only_fields(data, set())


def query_int(req: func.HttpRequest, name: str, default: int, low: int, high: int) -> int | None:
    """A whole-number query parameter within [low, high] (``default`` when absent or empty), or None when invalid:
    the caller answers 400 with its own wording."""
    value = req.params.get(name)
    if value is None or value == "":
        return default
    return int(value) if value.isdigit() and low <= int(value) <= high else None


def route_customer(req: func.HttpRequest) -> tuple[str, func.HttpResponse | None]:
    """The route's ``{customer_id}`` normalised (tenant ids are GUIDs, compared lower-case), or a 400."""
    from shared.domain.ids import InvalidCustomerId, normalise_customer_id

    try:
        return normalise_customer_id(req.route_params.get("customer_id", "")), None
    except InvalidCustomerId as exc:
        return "", error(400, str(exc))


@lru_cache(maxsize=1)
def _error_table() -> tuple[tuple[tuple[type[BaseException], ...], int, Callable[[Any], str]], ...]:
    """(error types, status, message) in the order they are tried: THE place an error becomes an HTTP answer.

    Built on first use so a cold start imports none of these modules."""
    from pydantic import ValidationError

    from shared.clock import ClockError, NotMovable
    from shared.collections.errors import PolicyError
    from shared.messaging.handling import validation_reason
    from shared.partner_center import NotFound, PartnerCenterError
    from shared.services.deadletters import ReplayRefused
    from shared.services.errors import (
        ConflictError,
        EvaluationError,
        ForbiddenError,
        InvalidRequest,
        NotFoundError,
        UpstreamError,
    )
    from shared.storage.deadletters import LetterNotWaiting
    from shared.storage.documents import ConcurrencyConflict
    from shared.storage.errors import EntityExists, EntityNotFound, EtagMismatch, StorageUnavailable

    return (
        ((ValidationError,), 400, lambda e: f"invalid request: {validation_reason(e)}"),
        ((ReplayRefused,), 400, lambda e: f"{e.operation} refused: {e}"),
        ((InvalidRequest,), 400, str),
        ((EvaluationError,), 422, str),  # the customer's stored data, not this request: say so
        ((NotFoundError,), 404, lambda e: str(e.args[0]) if e.args else "not found"),
        ((EntityNotFound,), 404, str),  # the row a settle or update names is not there
        ((ForbiddenError,), 403, str),
        ((NotMovable,), 409, str),  # checked before ClockError, its base
        ((ClockError,), 400, str),
        ((ConflictError, ConcurrencyConflict, LetterNotWaiting), 409, str),
        ((EtagMismatch, EntityExists), 409, str),  # a concurrent writer won: read again and retry
        ((StorageUnavailable,), 503, lambda e: f"storage unavailable, try again later: {e}"),
        ((UpstreamError,), 502, str),
        ((NotFound,), 404, lambda e: f"Partner Center does not know this customer: {e.description}"),
        ((PartnerCenterError,), 502,  # Partner Center's own answer, as an UpstreamError would say it
         lambda e: f"Partner Center refused or failed ({e.code}): {e.description}; try again"),
        ((PolicyError,), 500, lambda e: f"policy problem: {e}"),
        ((RecursionError,), 400, lambda e: "request nests too deeply"),
    )


def error_response(exc: BaseException) -> func.HttpResponse:
    """The HTTP answer to an error a route did not expect to handle itself; never an empty 500."""
    from shared.services.errors import ServiceError

    for types, status, message in _error_table():
        if isinstance(exc, types):
            return error(status, message(exc), **(exc.details if isinstance(exc, ServiceError) else {}))
    import logging

    from shared.observability import get_correlation_id

    logging.getLogger("cspguard.http").error("unhandled error in an HTTP function", exc_info=exc)
    return error(500, f"internal error ({type(exc).__name__}): see the logs for this correlation id",
                 correlation_id=get_correlation_id())


def handle_errors(run: Callable[[], func.HttpResponse]) -> func.HttpResponse:
    """Run an operator action, answering its errors through ``error_response``."""
    try:
        return run()
    except Exception as exc:
        return error_response(exc)


async def handle_errors_async(run: Callable[[], Awaitable[func.HttpResponse]]) -> func.HttpResponse:
    """``handle_errors`` for an action that awaits (Partner Center calls)."""
    try:
        return await run()
    except Exception as exc:
        return error_response(exc)


def principal(req: func.HttpRequest) -> Principal | None:
    """The signed-in person the platform (or locally the runner) vouches for; see shared/auth.py."""
    from shared.auth import principal_from  # pydantic: imported on first use, not at cold start

    return principal_from(dict(req.headers), os.environ)


def actor(req: func.HttpRequest) -> str | None:
    """Who is acting, for the audit: only a vouched principal (locally also ``X-Actor``), never a body."""
    found = principal(req)
    return found.actor if found else None


def authorize(req: func.HttpRequest, permission: Permission) -> tuple[Principal | None, func.HttpResponse | None]:
    """(principal, None) when the caller may do ``permission``, else (None, a 401/403 saying why)."""
    from shared.auth import local_signin, same_origin

    found = principal(req)
    if found is None:
        how = ("sign in at /.auth/login (local development sign-in) or send an X-Actor header"
               if local_signin(os.environ) else "sign in through App Service Authentication (/.auth/login/aad)")
        return None, error(401, f"sign in first: {how}")
    if req.method not in ("GET", "HEAD") and not same_origin(dict(req.headers)):
        return None, error(403, "cross-site request refused: act from the console's own pages or without a browser")
    if not found.can(permission):
        allowed = sorted(r.value for r, grants in GRANTS.items() if permission in grants)
        return None, error(403, f"{found.name} (roles: {', '.join(sorted(found.roles)) or 'none'}) may not "
                                f"{permission.value}: needs one of the roles {', '.join(allowed)}")
    return found, None


def ingress_principal(req: func.HttpRequest) -> tuple[Principal | None, func.HttpResponse | None]:
    """For function-key routes (system ingress): the sending system must name itself."""
    from shared.auth import system_principal

    found = system_principal(dict(req.headers), os.environ)
    if found is None:
        return None, error(400, "say which system is sending: add an X-Source-System header")
    if not found.can(Permission.INGEST):
        return None, error(403, f"{found.name} may not send system events: needs the admin role or a function key")
    return found, None


def operator_request(req: func.HttpRequest, fields: set[str] | frozenset[str], permission: Permission = Permission.ACT,
                     *, body_required: bool = False) -> tuple[str, str, dict[str, Any], func.HttpResponse | None]:
    """(normalised route customer id, actor, JSON object body with only ``fields``, error response) of a request
    about one customer: sign-in and ``permission`` first (a stranger learns nothing about ids), then the id, then
    the body (an empty body is ``{}`` unless ``body_required``)."""
    found, refused = authorize(req, permission)
    if found is None:
        return "", "", {}, refused
    cid, bad_id = route_customer(req)
    if bad_id:
        return "", "", {}, bad_id
    who = found.actor
    if not req.get_body() and not body_required:
        return cid, who, {}, None
    data, bad = json_body(req)
    if bad:
        return cid, who, {}, bad
    bad = only_fields(data, fields)
    if bad:
        return cid, who, {}, bad
    return cid, who, data, None
