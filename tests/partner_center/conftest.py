"""Helpers for the Partner Center client tests: a fake token provider and a MockTransport client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shared.partner_center import CHINA, CloudProfile, PartnerCenterClient, RetryPolicy


class FakeTokens:
    """Hands out ``token-N``; a forced refresh moves to the next number."""

    def __init__(self) -> None:
        self.issued = 1
        self.forced = 0

    async def token(self, *, force_refresh: bool = False) -> str:
        if force_refresh:
            self.forced += 1
            self.issued += 1
        return f"token-{self.issued}"


class Sleeps:
    """Records back-off delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens()


@pytest.fixture
def make_client(sleeps: Sleeps, tokens: FakeTokens) -> Callable[..., PartnerCenterClient]:
    def build(handler: Handler, profile: CloudProfile = CHINA, **kw: Any) -> PartnerCenterClient:
        http = httpx.AsyncClient(base_url=profile.base_url, transport=httpx.MockTransport(handler))
        kw.setdefault(
            "retry", RetryPolicy(max_attempts=4, backoff_initial=0.01, backoff_max=0.05, jitter=0.01)
        )
        return PartnerCenterClient.create(
            profile,
            tokens,
            rate_per_minute=60_000,
            customer_rate_per_minute=60_000,
            http=http,
            sleep=sleeps,
            **kw,
        )

    return build


def page(
    items: list[dict[str, Any]], next_uri: str | None = None, token: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "totalCount": len(items),
        "items": items,
        "links": {"self": {"uri": "/customers", "method": "GET", "headers": []}},
        "attributes": {"objectType": "Collection"},
    }
    if next_uri:
        body["links"]["next"] = {
            "uri": next_uri,
            "method": "GET",
            "headers": [{"key": "MS-ContinuationToken", "value": token or ""}],
        }
    return body
