"""The local stand-in for App Service Authentication: a development sign-in page (choose a user and roles)
that produces the same ``x-ms-client-principal`` header Easy Auth forwards in Azure.

Like the platform, the runner drops any principal header a client sends and injects the one of the signed-in
session (a cookie). Everything here is marked LOCAL: it exists only under ``python -m devtools.runner`` /
``make run``; the app ignores it on App Service (shared/auth.py).
"""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from shared.auth import PRINCIPAL_HEADER, Role, decode_principal, encode_principal

COOKIE = "cspguard_local_principal"
DEFAULT_AFTER = "/api/console"
USERS = ("viewer@partner.example", "operator@partner.example", "approver@partner.example",
         "admin@partner.example")


def principal_headers(request: Request) -> dict[str, str]:
    """The request's headers as the app should see them: client-sent principals dropped, the session's added."""
    headers = {k: v for k, v in request.headers.items() if not k.lower().startswith("x-ms-client-principal")}
    value = request.cookies.get(COOKIE)
    if value and decode_principal(value) is not None:
        headers[PRINCIPAL_HEADER] = value
        headers[PRINCIPAL_HEADER + "-idp"] = "local-dev"
    return headers


def _safe_after(value: str | None) -> str:
    """Only same-site paths (no open redirect)."""
    if not value:
        return DEFAULT_AFTER
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc and value.startswith("/") else DEFAULT_AFTER


def _page(after: str, message: str = "") -> str:
    users = "".join(f'<option value="{u}">' for u in USERS)
    roles = "".join(f'<label><input type="checkbox" name="role" value="{r.value}" id="role-{r.value}"> {r.value}'
                    "</label> " for r in Role)
    note = f'<p class="err">{html.escape(message)}</p>' if message else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>LOCAL sign-in - csp-guard</title>
<style>body{{font-family:system-ui,sans-serif;margin:0}}.local{{background:#b00020;color:#fff;padding:.6em 1em;
font-weight:bold}}form{{margin:2em;max-width:32em}}label{{margin-right:1em}}.err{{color:#b00020}}
input[type=text]{{width:100%;padding:.3em}}button{{margin-top:1em;padding:.4em 1.2em}}</style></head><body>
<div class="local" id="local-banner">LOCAL DEVELOPMENT SIGN-IN &mdash; not Microsoft Entra ID; in Azure, App Service
Authentication signs people in</div>
<form method="post" action="/.auth/login"><h1>Sign in (local)</h1>{note}
<p><label for="user">User</label><br><input type="text" id="user" name="user" list="users" required
 placeholder="someone@partner.example"><datalist id="users">{users}</datalist></p>
<p>Roles (Entra app roles): {roles}</p>
<input type="hidden" name="after" value="{html.escape(after)}">
<button type="submit" id="sign-in">Sign in</button></form></body></html>"""


async def handle(request: Request, path: str) -> Response:
    """``/.auth/login`` (GET page, POST form), ``/.auth/login/aad`` (same page), ``/.auth/logout``, ``/.auth/me``."""
    if path in ("/.auth/login", "/.auth/login/aad") and request.method == "GET":
        return HTMLResponse(_page(_safe_after(request.query_params.get("post_login_redirect_uri"))))
    if path in ("/.auth/login", "/.auth/login/aad") and request.method == "POST":
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        user = (form.get("user") or [""])[0].strip()
        roles = [r for r in form.get("role", []) if r in {x.value for x in Role}]
        after = _safe_after((form.get("after") or [""])[0])
        if not user:
            return HTMLResponse(_page(after, "choose a user"), status_code=400)
        response = RedirectResponse(after, status_code=303)
        response.set_cookie(COOKIE, encode_principal(user, roles), httponly=True, samesite="strict")
        return response
    if path == "/.auth/logout":
        response = RedirectResponse(_safe_after(request.query_params.get("post_logout_redirect_uri")) if
                                    request.query_params.get("post_logout_redirect_uri") else "/.auth/login",
                                    status_code=303)
        response.delete_cookie(COOKIE)
        return response
    if path == "/.auth/me":
        value = request.cookies.get(COOKIE)
        if not value:
            return JSONResponse([])
        return JSONResponse([{"provider_name": "local-dev", **json.loads(base64.b64decode(value))}])
    return Response(status_code=404)
