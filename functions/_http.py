"""Helpers shared by the HTTP adapters: JSON responses and readable 4xx errors."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import azure.functions as func

from shared.auth import GRANTS, Permission, Principal, local_signin, principal_from, same_origin, system_principal


def json_response(data: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(data, default=str, ensure_ascii=False), status_code=status,
                             mimetype="application/json", charset="utf-8")


def error(status: int, message: str, **details: Any) -> func.HttpResponse:
    """A 4xx/5xx with a body that says what is wrong."""
    return json_response({"error": message, **details}, status)


def json_body(req: func.HttpRequest) -> tuple[Any, func.HttpResponse | None]:
    """Parse the request body as JSON, or return a 400 saying why not."""
    try:
        return req.get_json(), None
    except ValueError as exc:
        return None, error(400, f"request body is not valid JSON: {exc}")


def handle_errors(run: Callable[[], func.HttpResponse]) -> func.HttpResponse:
    """Run an operator action, mapping use-case errors to readable 4xx answers."""
    from pydantic import ValidationError

    from shared.collections import PolicyError
    from shared.messaging.handling import validation_reason
    from shared.services.errors import ConflictError, ForbiddenError, NotFoundError
    from shared.storage.documents import ConcurrencyConflict

    try:
        return run()
    except ValidationError as exc:
        return error(400, f"invalid request: {validation_reason(exc)}")
    except NotFoundError as exc:
        return error(404, str(exc.args[0]) if exc.args else "not found")
    except ForbiddenError as exc:
        return error(403, str(exc))
    except (ConflictError, ConcurrencyConflict) as exc:
        return error(409, str(exc))
    except PolicyError as exc:
        return error(500, f"policy problem: {exc}")


def principal(req: func.HttpRequest) -> Principal | None:
    """The signed-in person the platform (or locally the runner) vouches for; see shared/auth.py."""
    return principal_from(dict(req.headers), os.environ)


def actor(req: func.HttpRequest) -> str | None:
    """Who is acting, for the audit: only a vouched principal (locally also ``X-Actor``), never a body."""
    found = principal(req)
    return found.actor if found else None


def authorize(req: func.HttpRequest, permission: Permission) -> tuple[Principal | None, func.HttpResponse | None]:
    """(principal, None) when the caller may do ``permission``, else (None, a 401/403 saying why)."""
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
    found = system_principal(dict(req.headers), os.environ)
    if found is None:
        return None, error(400, "say which system is sending: add an X-Source-System header")
    if not found.can(Permission.INGEST):
        return None, error(403, f"{found.name} may not send system events: needs the admin role or a function key")
    return found, None
