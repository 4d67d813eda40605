"""Which channel carries a 21Vianet service request: the portal unless a partner chose e-mail or a webhook."""

from __future__ import annotations

import pytest

from shared.settings import load_settings

BASE = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


@pytest.mark.parametrize(("values", "route"), [
    ({}, "portal"),
    ({"CSPGUARD_SERVICE_REQUEST_WEBHOOK_URL": "https://tickets.partner.example/hook"}, "webhook"),
    ({"CSPGUARD_SERVICE_REQUEST_WEBHOOK_URL": "https://tickets.partner.example/hook",
      "CSPGUARD_SERVICE_REQUEST_CHANNEL": "portal"}, "portal"),
    ({"CSPGUARD_SERVICE_REQUEST_CHANNEL": "email"}, "email"),
])
def test_route(values: dict[str, str], route: str) -> None:
    assert load_settings(**BASE, **values).service_request_route == route


def test_webhook_channel_without_url_is_reported() -> None:
    s = load_settings(**BASE, CSPGUARD_SERVICE_REQUEST_CHANNEL="webhook")
    assert any("CSPGUARD_SERVICE_REQUEST_WEBHOOK_URL" in p for p in s.problems())
