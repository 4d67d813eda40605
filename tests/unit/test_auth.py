"""Who acted and what they may do (shared/auth.py) and the HTTP adapter's 401/403 (functions/_http.py)."""

from __future__ import annotations

import base64
import json

import azure.functions as func
import pytest

from functions._http import authorize, ingress_principal
from shared.auth import Permission, Role, decode_principal, encode_principal, principal_from, system_principal

EASY_AUTH = {"WEBSITE_AUTH_ENABLED": "True", "WEBSITE_SITE_NAME": "csp-guard", "WEBSITE_INSTANCE_ID": "abc"}
LOCAL = {"CSPGUARD_LOCAL_SIGNIN": "true"}


def entra_header(name: str, *roles: str) -> str:
    """What Easy Auth forwards for an Entra ID v2 token with app roles (long role claim type)."""
    claims = [{"typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "val": name},
              {"typ": "oid", "val": "00000000-0000-0000-0000-000000000001"},
              *({"typ": "roles", "val": r} for r in roles)]
    doc = {"auth_typ": "aad", "claims": claims,
           "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
           "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def test_easy_auth_principal_is_read_with_its_roles() -> None:
    p = principal_from({"X-MS-CLIENT-PRINCIPAL": entra_header("alice@partner.cn", "operator", "Approver", "other")},
                       EASY_AUTH)
    assert p is not None and p.name == "alice@partner.cn" and p.source == "entra"
    assert p.roles == {Role.OPERATOR, Role.APPROVER} and p.actor == "operator:alice@partner.cn"
    assert p.can(Permission.ACT) and p.can(Permission.DECIDE) and not p.can(Permission.INGEST)


def test_principal_header_is_ignored_unless_the_platform_vouches_for_it() -> None:
    header = {"x-ms-client-principal": encode_principal("mallory", ["admin"])}
    assert principal_from(header, {}) is None  # not behind App Service Authentication
    assert principal_from(header, {"WEBSITE_AUTH_ENABLED": "False"}) is None
    # the runner's local sign-in setting means nothing on App Service
    assert principal_from(header, {**LOCAL, "WEBSITE_SITE_NAME": "csp-guard"}) is None
    local = principal_from(header, LOCAL)
    assert local is not None and local.source == "local-signin" and local.local


def test_x_actor_counts_only_locally() -> None:
    assert principal_from({"x-actor": "ops"}, EASY_AUTH) is None
    assert principal_from({"x-actor": "ops"}, {}) is None
    p = principal_from({"x-actor": "ops"}, LOCAL)
    assert p is not None and p.source == "local-header" and p.can(Permission.DECIDE)


@pytest.mark.parametrize("value", ["not base64!!", base64.b64encode(b"[1,2]").decode(),
                                   base64.b64encode(b'{"claims": [{"typ": "roles", "val": "admin"}]}').decode(),
                                   base64.b64encode(b"\xff\xfe").decode()])
def test_unreadable_or_nameless_principals_are_nobody(value: str) -> None:
    assert decode_principal(value) is None
    assert principal_from({"x-ms-client-principal": value}, EASY_AUTH) is None


@pytest.mark.parametrize(("role", "allowed"), [
    ("viewer", {Permission.READ}),
    ("operator", {Permission.READ, Permission.ACT}),
    ("approver", {Permission.READ, Permission.DECIDE}),
    ("admin", set(Permission)),
])
def test_roles_map_to_permissions(role: str, allowed: set[Permission]) -> None:
    p = principal_from({"x-ms-client-principal": entra_header("u", role)}, EASY_AUTH)
    assert p is not None
    assert {perm for perm in Permission if p.can(perm)} == allowed


def test_a_function_key_holder_may_only_send_system_events() -> None:
    p = system_principal({"X-Source-System": "billing"}, EASY_AUTH)
    assert p is not None and p.actor == "system:billing" and p.can(Permission.INGEST)
    assert not p.can(Permission.READ) and not p.can(Permission.ACT)
    assert system_principal({}, EASY_AUTH) is None


def _req(headers: dict[str, str]) -> func.HttpRequest:
    return func.HttpRequest(method="POST", url="http://x/api/approvals/decide", headers=headers, body=b"{}")


def test_http_answers_401_signed_out_and_403_without_the_role(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in EASY_AUTH.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("CSPGUARD_LOCAL_SIGNIN", raising=False)
    who, refused = authorize(_req({"x-actor": "ops"}), Permission.DECIDE)
    assert who is None and refused is not None and refused.status_code == 401
    assert b"/.auth/login/aad" in refused.get_body()
    who, refused = authorize(_req({"x-ms-client-principal": entra_header("v@p.cn", "viewer")}), Permission.DECIDE)
    assert who is None and refused is not None and refused.status_code == 403
    body = json.loads(refused.get_body())["error"]
    assert "v@p.cn" in body and "approver" in body and "admin" in body
    who, refused = authorize(_req({"x-ms-client-principal": entra_header("b@p.cn", "approver")}), Permission.DECIDE)
    assert refused is None and who is not None and who.actor == "operator:b@p.cn"


def test_system_ingress_must_name_the_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in EASY_AUTH.items():
        monkeypatch.setenv(k, v)
    who, refused = ingress_principal(_req({}))
    assert who is None and refused is not None and refused.status_code == 400
    assert b"X-Source-System" in refused.get_body()
    who, refused = ingress_principal(_req({"x-source-system": "sap-fi"}))
    assert refused is None and who is not None and who.actor == "system:sap-fi"


def test_a_cross_site_browser_request_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in EASY_AUTH.items():
        monkeypatch.setenv(k, v)
    signed_in = {"x-ms-client-principal": entra_header("o@p.cn", "operator"), "host": "csp-guard.chinacloudsites.cn"}
    for extra in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
        who, refused = authorize(_req({**signed_in, **extra}), Permission.ACT)
        assert who is None and refused is not None and refused.status_code == 403
    same = {"origin": "https://csp-guard.chinacloudsites.cn", "sec-fetch-site": "same-origin"}
    assert authorize(_req({**signed_in, **same}), Permission.ACT)[1] is None
    assert authorize(_req(signed_in), Permission.ACT)[1] is None  # a script: no browser headers


def test_an_application_token_is_named_by_its_client_id() -> None:
    doc = {"auth_typ": "aad", "claims": [{"typ": "azp", "val": "11111111-2222-3333-4444-555555555555"},
                                         {"typ": "roles", "val": "operator"}]}
    p = principal_from({"x-ms-client-principal": base64.b64encode(json.dumps(doc).encode()).decode()}, EASY_AUTH)
    assert p is not None and p.actor == "operator:app:11111111-2222-3333-4444-555555555555" and p.can(Permission.ACT)
