"""The console's HTML pages (shared/console/pages.py). Each page reads the JSON API in-process with the caller's
own headers, so a page shows exactly what its viewer's roles may read; actions in the page call the JSON API."""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

import azure.functions as func

from functions._http import principal
from shared.permissions import Permission

bp = func.Blueprint()
LANG_COOKIE = "cspguard_lang"
Handler = Callable[[func.HttpRequest], Any]


def _handlers() -> list[tuple[str, list[str], Handler]]:
    """(METHOD, route segments, user function) of the app's JSON routes, literal routes first."""
    from functions._routes import http_routes

    out = [(m, route.split("/"), fn) for m, route, fn in http_routes() if not route.startswith("console")]
    return sorted(out, key=lambda h: sum(s.startswith("{") for s in h[1]))


def _match(template: list[str], parts: list[str]) -> dict[str, str] | None:
    if len(template) != len(parts):
        return None
    params = {}
    for t, p in zip(template, parts, strict=True):
        if t.startswith("{"):
            if not p:
                return None
            params[t[1:-1]] = p
        elif t.lower() != p.lower():
            return None
    return params


def _fetcher(req: func.HttpRequest) -> Callable[[str, str, dict[str, str]], tuple[int, Any]]:
    handlers = _handlers()
    headers = dict(req.headers)

    def fetch(method: str, route: str, query: dict[str, str]) -> tuple[int, Any]:
        parts = route.split("/")
        for m, template, fn in handlers:
            params = _match(template, parts) if m == method else None
            if params is None:
                continue
            sub = func.HttpRequest(method=method, url=f"http://console/api/{route}", headers=headers, params=query,
                                   route_params=params, body=b"")
            res = fn(sub)
            body = res.get_body()
            return res.status_code, json.loads(body) if body else None
        return 404, {"error": f"no route {method} {route}"}

    return fetch


def _cookie(req: func.HttpRequest, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(req.headers.get("cookie") or "")
    except Exception:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def _html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(body, status_code=status, mimetype="text/html", charset="utf-8", headers=headers or {})


def _page(req: func.HttpRequest, path: str, render: Callable[[Any], str]) -> func.HttpResponse:
    from shared.console import pages
    from shared.console.i18n import pick_lang

    who = principal(req)
    if who is None:
        from shared.auth import local_signin

        login = "/.auth/login" if local_signin(os.environ) else "/.auth/login/aad"
        where = f"{login}?post_login_redirect_uri={quote(path)}"
        return func.HttpResponse(status_code=302, headers={"Location": where})
    if not who.can(Permission.READ):
        return _html(f"<!doctype html><h1>403</h1><p>{html.escape(who.name)} has no console role (viewer, operator, "
                     "approver or admin). Ask an administrator to assign one in Entra ID.</p>"
                     '<p><a href="/.auth/logout">Sign out</a></p>', 403)
    asked = req.params.get("lang")
    lang = pick_lang(asked, _cookie(req, LANG_COOKIE), req.headers.get("accept-language"))
    number = req.params.get("page", "1")
    page = pages.Page(principal=who, lang=lang, path=path, fetch=_fetcher(req),
                      page=int(number) if number.isdigit() and 0 < int(number) < 1_000_000 else 1)
    cookie = {"Set-Cookie": f"{LANG_COOKIE}={lang}; Path=/; SameSite=Lax; Max-Age=31536000"} if asked == lang else {}
    try:
        return _html(render(page), headers=cookie)
    except pages.ApiError as exc:
        message = exc.body.get("error") if isinstance(exc.body, dict) else str(exc.body)
        return _html(f'<!doctype html><h1>{exc.status}</h1><p>{html.escape(str(message))}</p>'
                     '<p><a href="/api/console">csp-guard console</a></p>', exc.status, cookie)


@bp.route(route="console", methods=["GET"])
def console_portfolio(req: func.HttpRequest) -> func.HttpResponse:
    from shared.console import pages

    return _page(req, "/api/console", pages.portfolio)


@bp.route(route="console/approvals", methods=["GET"])
def console_approvals(req: func.HttpRequest) -> func.HttpResponse:
    from shared.console import pages

    return _page(req, "/api/console/approvals", pages.approvals)


@bp.route(route="console/customers/{customer_id}", methods=["GET"])
def console_customer(req: func.HttpRequest) -> func.HttpResponse:
    from shared.console import pages

    cid = req.route_params["customer_id"]
    return _page(req, f"/api/console/customers/{quote(cid)}", lambda p: pages.customer(p, cid))


@bp.route(route="console/fraud", methods=["GET"])
def console_fraud(req: func.HttpRequest) -> func.HttpResponse:
    from shared.console import pages

    return _page(req, "/api/console/fraud", pages.fraud_cases)


@bp.route(route="console/fraud/{customer_id}", methods=["GET"])
def console_fraud_case(req: func.HttpRequest) -> func.HttpResponse:
    from shared.console import pages

    cid = req.route_params["customer_id"]
    return _page(req, f"/api/console/fraud/{quote(cid)}", lambda p: pages.fraud_case(p, cid))


@bp.route(route="console/messages", methods=["GET"])
def console_messages(req: func.HttpRequest) -> func.HttpResponse:
    from shared.console import pages

    return _page(req, "/api/console/messages", pages.messages)


@bp.route(route="console/policy", methods=["GET"])
def console_policy(req: func.HttpRequest) -> func.HttpResponse:
    from shared.console import pages

    return _page(req, "/api/console/policy", pages.policy)


@bp.route(route="console/forecast", methods=["GET"])
def console_forecast(req: func.HttpRequest) -> func.HttpResponse:
    from shared.console import pages

    available = any(m == "GET" and "/".join(t) == "collections/forecast" for m, t, _ in _handlers())
    return _page(req, "/api/console/forecast", lambda p: pages.forecast(p, available))
