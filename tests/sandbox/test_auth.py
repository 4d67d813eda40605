"""Tokens through the real MSAL client-credentials path, Entra-shaped errors, and 401s."""

from __future__ import annotations

import time

import httpx
import msal
import pytest
import requests

from devtools.sandbox import FaultConfig, Sandbox

from .conftest import token_for

pytestmark = pytest.mark.integration


def msal_app(sb: Sandbox, secret: str | None = None) -> msal.ConfidentialClientApplication:
    session = requests.Session()
    session.verify = str(sb.ca_pem_path)
    session.trust_env = False  # these machines set REQUESTS_CA_BUNDLE, which would override verify
    return msal.ConfidentialClientApplication(
        sb.client_id,
        client_credential=secret or sb.client_secret,
        authority=f"{sb.authority_host}/{sb.tenant_id}",
        instance_discovery=False,
        validate_authority=False,
        http_client=session,
    )


def test_msal_acquires_a_token_the_api_accepts(sb: Sandbox) -> None:
    result = msal_app(sb).acquire_token_for_client(scopes=[sb.scope])
    assert "access_token" in result, result
    assert result["token_type"].lower() == "bearer" and result["expires_in"] > 3000
    with httpx.Client(verify=sb.ssl_context()) as c:
        r = c.get(
            f"{sb.base_url}/v1/customers?size=10",
            headers={"Authorization": f"Bearer {result['access_token']}", "MS-Contract-Version": "v1"},
        )
    assert r.status_code == 200 and r.json()["items"]


def test_msal_reports_a_wrong_secret_as_entra_does(sb: Sandbox) -> None:
    result = msal_app(sb, secret="wrong").acquire_token_for_client(scopes=[sb.scope])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215] and result["error_description"].startswith("AADSTS7000215")


@pytest.mark.parametrize(
    ("field", "value", "status", "error", "code"),
    [
        ("client_id", "00000000-0000-0000-0000-000000000000", 400, "unauthorized_client", 700016),
        (
            "scope",
            "https://partner.partnercenterapi.microsoftonline.cn/user_impersonation",
            400,
            "invalid_scope",
            1002012,
        ),
        ("scope", "https://graph.chinacloudapi.cn/.default", 400, "invalid_resource", 500011),
        ("grant_type", "password", 400, "unsupported_grant_type", 70003),
    ],
)
def test_token_errors(sb: Sandbox, field: str, value: str, status: int, error: str, code: int) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "scope": sb.scope,
        field: value,
    }
    with httpx.Client(verify=sb.ssl_context()) as c:
        r = c.post(f"{sb.authority_host}/{sb.tenant_id}/oauth2/v2.0/token", data=form)
    assert r.status_code == status
    body = r.json()
    assert body["error"] == error and body["error_codes"] == [code]
    assert {"error_description", "timestamp", "trace_id", "correlation_id"} <= body.keys()


def test_unknown_tenant_is_refused(sb: Sandbox) -> None:
    with httpx.Client(verify=sb.ssl_context()) as c:
        r = c.get(f"{sb.authority_host}/not-my-tenant/v2.0/.well-known/openid-configuration")
    assert r.status_code == 400 and r.json()["error_codes"] == [90002]


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc"])
def test_api_refuses_missing_or_unknown_tokens(sb: Sandbox, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    with httpx.Client(verify=sb.ssl_context()) as c:
        r = c.get(f"{sb.base_url}/v1/customers", headers=headers)
    assert r.status_code == 401 and r.json()["code"] == 401


def test_tokens_that_expire_early(sb: Sandbox) -> None:
    sb.set_faults(FaultConfig(token_ttl_seconds=0.2))
    tok = token_for(sb)
    headers = {"Authorization": f"Bearer {tok}", "MS-Contract-Version": "v1"}
    with httpx.Client(verify=sb.ssl_context(), headers=headers) as c:
        assert c.get(f"{sb.base_url}/v1/customers?size=10").status_code == 200
        deadline = time.monotonic() + 5
        while c.get(f"{sb.base_url}/v1/customers?size=10").status_code != 401:
            assert time.monotonic() < deadline, "token never expired"
            time.sleep(0.1)


def test_admin_can_expire_every_token(sb: Sandbox, api: httpx.Client) -> None:
    assert api.get("/v1/customers?size=10").status_code == 200
    r = api.post("/_sandbox/faults", json={"expire_tokens_now": True})
    assert r.json()["expiredTokens"] >= 1
    assert api.get("/v1/customers?size=10").status_code == 401
