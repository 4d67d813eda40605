"""HTTP triggers served by Starlette: routing, keys, and faithful HttpRequest/HttpResponse mapping.

Also serves the host's admin endpoint ``POST /admin/functions/{name}`` (master key) that runs a
non-HTTP function now, as ``func start`` does, and ``GET /admin/timers`` (master key; the runner's own) with
each timer's run count, last run and ``past_due``, so tests and rehearsals know when a moved clock's runs ended.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.functions import _abc as azf_abc
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devtools.runner.invoke import Invocation, InvocationFailed
from devtools.runner.metadata import FunctionSpec, HttpTrigger
from devtools.runner.routes import Keys, RouteTemplate, authorized, compile_route, route_sort_key
from devtools.runner.signin import handle as signin
from devtools.runner.signin import principal_headers

log = logging.getLogger("devtools.runner")
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

Invoker = Callable[[FunctionSpec, Any], Awaitable[Invocation]]
AdminInvoker = Callable[[str, str], Awaitable[bool]]
TimerStatus = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class HttpFunction:
    spec: FunctionSpec
    trigger: HttpTrigger
    route: RouteTemplate


def http_functions(specs: Sequence[FunctionSpec]) -> list[HttpFunction]:
    """HTTP-triggered functions in matching order (route precedence)."""
    out = [HttpFunction(s, s.trigger, compile_route(s.trigger.route))
           for s in specs if isinstance(s.trigger, HttpTrigger)]
    return sorted(out, key=lambda f: route_sort_key(f.route))


def presented_key(request: Request) -> str | None:
    return request.headers.get("x-functions-key") or request.query_params.get("code")


def to_func_request(request: Request, body: bytes, route_params: dict[str, str],
                    local_signin: bool = False) -> func.HttpRequest:
    headers = principal_headers(request) if local_signin else dict(request.headers)
    return func.HttpRequest(method=request.method, url=str(request.url), headers=headers,
                            params=dict(request.query_params), route_params=route_params, body=body)


def to_response(value: Any) -> Response:
    """Map what the function returned to the wire, as the worker's HttpResponseConverter does."""
    if value is None:
        return Response(status_code=204)
    if isinstance(value, str | bytes):
        return Response(value, status_code=200, media_type="text/plain; charset=utf-8")
    if isinstance(value, azf_abc.HttpResponse):
        headers = {k: v for k, v in value.headers.items()}
        if not any(k.lower() == "content-type" for k in headers):
            mt = value.mimetype
            headers["content-type"] = f"{mt}; charset={value.charset}" if mt.startswith("text/") else mt
        return Response(value.get_body() or b"", status_code=int(value.status_code), headers=headers)
    log.error("HTTP function returned %s, not an HttpResponse", type(value).__name__)
    return Response(status_code=500)


def build_http_app(specs: Sequence[FunctionSpec], route_prefix: str, keys: Keys, run: Invoker,
                   admin_run: AdminInvoker, local_signin: bool = False, timers: TimerStatus = dict) -> Starlette:
    """One catch-all Starlette route that dispatches like the Functions host (and, with ``local_signin``, like
    App Service Authentication in front of it: /.auth/* and the principal header; devtools/runner/signin.py)."""
    functions = http_functions(specs)
    prefix = "/" + route_prefix.strip("/").lower() if route_prefix.strip("/") else ""

    async def dispatch(request: Request) -> Response:
        path = request.url.path
        if path.startswith("/admin/"):
            return await admin(request, path)
        if local_signin and path.startswith("/.auth/"):
            return await signin(request, path)
        lowered = path.lower()
        if prefix and not (lowered == prefix or lowered.startswith(prefix + "/")):
            return Response(status_code=404)
        sub = path[len(prefix):]
        for f in functions:
            params = f.route.match(sub)
            if params is None or (f.trigger.methods and request.method not in f.trigger.methods
                                  and not (request.method == "HEAD" and "GET" in f.trigger.methods)):
                continue
            if not authorized(f.trigger.auth_level, presented_key(request), keys):
                return Response(status_code=401)
            req = to_func_request(request, await request.body(), params, local_signin)
            try:
                result = await run(f.spec, req)
            except InvocationFailed:
                return Response(status_code=500)
            return to_response(result.returned)
        return Response(status_code=404)

    async def admin(request: Request, path: str) -> Response:
        parts = path.strip("/").split("/")
        if parts == ["admin", "timers"] and request.method == "GET":
            if not authorized("admin", presented_key(request), keys):
                return Response(status_code=401)
            return JSONResponse(timers())
        if len(parts) != 3 or parts[1] != "functions" or request.method != "POST":
            return Response(status_code=404)
        if not authorized("admin", presented_key(request), keys):
            return Response(status_code=401)
        try:
            payload = await request.json() if await request.body() else {}
        except ValueError:
            return JSONResponse({"error": "body must be JSON like {\"input\": \"...\"}"}, status_code=400)
        found = await admin_run(parts[2], str((payload or {}).get("input", "")))
        return Response(status_code=202 if found else 404)

    return Starlette(routes=[Route("/{path:path}", dispatch, methods=ALL_METHODS)])
