"""One real sandbox over HTTPS per module; each test starts from a freshly generated world."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from devtools.sandbox import FaultConfig, Sandbox, SandboxConfig

BASE = SandboxConfig(
    seed=7, customers=30, usage_days=10, usage_start=date(2025, 3, 1), page_size_cap=7, usage_page_size_cap=50
)


@pytest.fixture(scope="module")
def server() -> Iterator[Sandbox]:
    with Sandbox(BASE).start() as sb:
        yield sb


@pytest.fixture
def sb(server: Sandbox) -> Sandbox:
    store = server.state
    store.config = BASE
    store.reset()
    store.set_faults(FaultConfig())
    return server


def token_for(sb: Sandbox) -> str:
    with httpx.Client(verify=sb.ssl_context()) as c:
        r = c.post(
            f"{sb.authority_host}/{sb.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": sb.client_id,
                "client_secret": sb.client_secret,
                "scope": sb.scope,
            },
        )
        r.raise_for_status()
        return str(r.json()["access_token"])


@pytest.fixture
def api(sb: Sandbox) -> Iterator[httpx.Client]:
    """An authenticated client, as the real one would be configured."""
    headers = {
        "Authorization": f"Bearer {token_for(sb)}",
        "Accept": "application/json",
        "MS-Contract-Version": "v1",
    }
    with httpx.Client(base_url=sb.base_url, verify=sb.ssl_context(), headers=headers, timeout=10) as c:
        yield c
