"""Credentials over a fake MSAL application (no I/O): caching, early renewal, forced refresh, rotation."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import requests

from shared.partner_center import (
    CHINA,
    AppOnlyCredential,
    AuthError,
    FileSecretStore,
    InMemorySecretStore,
    RefreshTokenCredential,
    SecretStore,
    TransportError,
)
from shared.partner_center._auth import http_session, renew_time


class FakeApp:
    def __init__(self, expires_in: float = 3600, fail: Any = None) -> None:
        self.calls = 0
        self.removed = 0
        self.expires_in = expires_in
        self.fail = fail
        self.scopes: list[list[str]] = []
        self.refresh_tokens: list[str] = []

    def remove_tokens_for_client(self) -> None:
        self.removed += 1

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
        if isinstance(self.fail, Exception):
            raise self.fail
        if self.fail:
            return dict(self.fail)
        self.calls += 1
        self.scopes.append(scopes)
        return {"access_token": f"at-{self.calls}", "expires_in": self.expires_in}

    def acquire_token_by_refresh_token(self, refresh_token: str, scopes: list[str]) -> dict[str, Any]:
        self.calls += 1
        self.refresh_tokens.append(refresh_token)
        self.scopes.append(scopes)
        return {
            "access_token": f"at-{self.calls}",
            "expires_in": self.expires_in,
            "refresh_token": f"rt-{self.calls}",
        }


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def app_only(app: FakeApp, clock: Clock) -> AppOnlyCredential:
    return AppOnlyCredential(CHINA, "t", "c", "s", app_factory=lambda: app, clock=clock, renew_before=300)


async def test_app_only_caches_and_renews_early() -> None:
    app, clock = FakeApp(expires_in=3600), Clock()
    cred = app_only(app, clock)
    assert await cred.token() == "at-1"
    assert await cred.token() == "at-1"
    assert app.scopes[0] == ["https://partner.partnercenterapi.microsoftonline.cn/.default"]
    clock.now += 3600 - 301
    assert await cred.token() == "at-1"
    clock.now += 2
    assert await cred.token() == "at-2"
    assert app.removed == 2  # MSAL's own cache is cleared so renewal really fetches


async def test_force_refresh_and_single_flight() -> None:
    app, clock = FakeApp(), Clock()
    cred = app_only(app, clock)
    tokens = await asyncio.gather(*(cred.token() for _ in range(20)))
    assert set(tokens) == {"at-1"} and app.calls == 1
    assert await cred.token(force_refresh=True) == "at-2"


def test_renew_time_for_short_tokens() -> None:
    assert renew_time(0, 3600, 300) == 3300
    assert renew_time(0, 200, 300) == 100  # shorter than the margin: renew half-way
    assert renew_time(0, 700, 300) == 400
    assert renew_time(5, 0, 300) == 5


@pytest.mark.parametrize(
    ("fail", "expected"),
    [
        ({"error": "invalid_client", "error_description": "AADSTS7000215: bad secret"}, AuthError),
        (requests.exceptions.ConnectionError("refused"), TransportError),
        (ValueError("Unable to get authority configuration"), AuthError),
    ],
)
async def test_failures_are_translated(fail: Any, expected: type) -> None:
    cred = app_only(FakeApp(fail=fail), Clock())
    with pytest.raises(expected) as info:
        await cred.token()
    assert "token" in str(info.value)


def test_missing_credentials_are_reported() -> None:
    with pytest.raises(AuthError, match="incomplete"):
        AppOnlyCredential(CHINA, "t", "", "s")


def test_http_session_trusts_only_the_ca(tmp_path: Path) -> None:
    assert http_session(None) is None
    session = http_session(tmp_path / "ca.pem")
    assert session is not None and session.verify == str(tmp_path / "ca.pem") and session.trust_env is False


async def test_refresh_token_rotates_through_the_store() -> None:
    store = InMemorySecretStore({"pc-refresh-token": "rt-0"})
    app, clock = FakeApp(expires_in=600), Clock()
    cred = RefreshTokenCredential(CHINA, "t", "c", "s", store, app_factory=lambda: app, clock=clock)
    assert await cred.token() == "at-1"
    assert await store.get("pc-refresh-token") == "rt-1"
    assert app.scopes[0] == ["https://partner.partnercenterapi.microsoftonline.cn/user_impersonation"]
    await cred.token(force_refresh=True)
    assert app.refresh_tokens == ["rt-0", "rt-1"]
    assert await store.get("pc-refresh-token") == "rt-2"


async def test_refresh_token_missing() -> None:
    cred = RefreshTokenCredential(CHINA, "t", "c", "s", InMemorySecretStore(), app_factory=FakeApp)
    with pytest.raises(AuthError, match="consent"):
        await cred.token()


async def test_file_store_roundtrip(tmp_path: Path) -> None:
    store = FileSecretStore(tmp_path / "secrets")
    assert isinstance(store, SecretStore)
    assert await store.get("rt") is None
    await store.set("rt", "one")
    await store.set("rt", "two")
    assert await store.get("rt") == "two"
    mode = stat.S_IMODE(os.stat(tmp_path / "secrets" / "rt").st_mode)
    assert mode == 0o600
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == ["rt"]
    with pytest.raises(ValueError):
        await store.set("../evil", "x")
