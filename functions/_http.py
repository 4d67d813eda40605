"""Helpers shared by the HTTP adapters: JSON responses and readable 4xx errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import azure.functions as func


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
    from shared.services.errors import ConflictError, NotFoundError
    from shared.storage.documents import ConcurrencyConflict

    try:
        return run()
    except ValidationError as exc:
        return error(400, f"invalid request: {validation_reason(exc)}")
    except NotFoundError as exc:
        return error(404, str(exc.args[0]) if exc.args else "not found")
    except (ConflictError, ConcurrencyConflict) as exc:
        return error(409, str(exc))
    except PolicyError as exc:
        return error(500, f"policy problem: {exc}")


def actor(req: func.HttpRequest) -> str | None:
    """Who is acting: the App Service auth principal if present, else the X-Actor header."""
    import base64

    principal = req.headers.get("x-ms-client-principal")
    if principal:
        try:
            claims = json.loads(base64.b64decode(principal))
            for claim in claims.get("claims", []):
                if claim.get("typ") in ("preferred_username", "name", "upn"):
                    return f"operator:{claim['val']}"
        except (ValueError, KeyError):
            pass
    name = req.headers.get("x-actor")
    return f"operator:{name}" if name else None
