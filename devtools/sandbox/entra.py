"""Entra-like authority: OpenID discovery, instance discovery and the client-credentials token
endpoint, enough for the real MSAL ConfidentialClientApplication; errors shaped as Entra's."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from devtools.sandbox.store import Store


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _entra_error(status: int, error: str, code: int, message: str) -> JSONResponse:
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {message}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\n"
        f"Timestamp: {now}",
        "error_codes": [code],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": f"https://login.partner.microsoftonline.cn/error?code={code}",
    }
    return JSONResponse(body, status)


async def openid_configuration(request: Request) -> Response:
    store, tenant = _store(request), request.path_params["tenant"]
    if tenant.lower() != store.config.tenant_id.lower():
        return _entra_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
    base = f"{_base(request)}/{tenant}"
    return JSONResponse(
        {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "AS",
            "cloud_instance_name": "partner.microsoftonline.cn",
        }
    )


async def instance_discovery(request: Request) -> Response:
    """MSAL asks this unless built with instance_discovery=False."""
    host = request.url.netloc
    authority = request.query_params.get("authorization_endpoint", "")
    tenant = (
        authority.rstrip("/").split("/")[-3]
        if authority.count("/") >= 5
        else _store(request).config.tenant_id
    )
    return JSONResponse(
        {
            "tenant_discovery_endpoint": f"{_base(request)}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }
    )


def _refresh_grant(store: Store, tenant: str, client_id: str, secret: str, form: dict[str, str]) -> Response:
    """App+User: a refresh token for the Partner Center ``user_impersonation`` scope, rotated on use."""
    cfg = store.config
    wanted = f"{cfg.audience.rstrip('/')}/user_impersonation"
    if client_id != cfg.client_id or secret != cfg.client_secret:
        return _entra_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
    if wanted not in form.get("scope", "").split():
        return _entra_error(400, "invalid_scope", 70011, f"The provided value for scope is not valid: need {wanted}.")
    rotated = store.redeem_refresh_token(form.get("refresh_token", ""), client_id)
    if rotated is None:
        return _entra_error(
            400, "invalid_grant", 70000, "The provided refresh token is invalid, expired or already used."
        )
    value, lifetime = store.issue_token(tenant, client_id, delegated=True)
    return JSONResponse(
        {
            "token_type": "Bearer",
            "scope": wanted,
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": value,
            "refresh_token": rotated,
        }
    )


async def token(request: Request) -> Response:
    store, tenant = _store(request), request.path_params["tenant"]
    cfg = store.config
    entry = store.log_call("POST", request.url.path, "", request.headers)
    # Parsed by hand: Starlette's form parser would need python-multipart for a three-field body.
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    scheme, _, basic = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":  # client_secret_basic
        user, _, password = base64.b64decode(basic).decode().partition(":")
        client_id, secret = unquote_plus(user), unquote_plus(password)
    scope, grant = form.get("scope", ""), form.get("grant_type", "")
    allowed = {cfg.audience.rstrip("/"), _base(request)}
    if tenant.lower() != cfg.tenant_id.lower():
        resp = _entra_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
    elif grant == "refresh_token":
        resp = _refresh_grant(store, tenant, client_id, secret, form)
    elif grant != "client_credentials":
        resp = _entra_error(
            400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
        )
    elif client_id != cfg.client_id:
        resp = _entra_error(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
        )
    elif secret != cfg.client_secret:
        resp = _entra_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
    elif not scope.endswith("/.default"):
        resp = _entra_error(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must have a scope "
            "value with /.default suffixed to the resource identifier (application ID URI).",
        )
    elif scope.removesuffix("/.default").rstrip("/") not in allowed:
        resp = _entra_error(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {scope.removesuffix('/.default')} was not found in the tenant.",
        )
    else:
        value, lifetime = store.issue_token(tenant, client_id)
        resp = JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": value,
            }
        )
    entry["status"] = resp.status_code
    return resp
