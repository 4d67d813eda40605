"""Tokens through MSAL, run in a worker thread (MSAL is synchronous), cached and renewed early.

Two credentials share one cache-and-renew core:
- ``AppOnlyCredential``: client credentials (the default; enough for customers, subscriptions,
  suspend/reactivate, invoices and unbilled usage).
- ``RefreshTokenCredential``: App+User (delegated) via a stored refresh token, which rotates on
  every exchange and is written back through a ``SecretStore``.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ._clouds import CloudProfile
from ._errors import AuthError, TransportError
from ._secrets import SecretStore

if TYPE_CHECKING:
    import requests

# msal and requests are imported on first token request, not at import: keeps the Functions cold start
# (indexing imports every blueprint) ~150 ms lighter.

Clock = Callable[[], float]


class TokenProvider(Protocol):
    """What the transport needs: a bearer token, optionally forced fresh (after a 401)."""

    async def token(self, *, force_refresh: bool = False) -> str: ...


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    renew_at: float  # monotonic seconds
    expires_at: float


def renew_time(now: float, expires_in: float, renew_before: float) -> float:
    """Renew ``renew_before`` seconds early; a token shorter than twice that is renewed half-way."""
    return now + max(0.0, expires_in - renew_before, expires_in / 2)


def http_session(ca_bundle: Path | None) -> requests.Session | None:
    """A session trusting ``ca_bundle``; ``trust_env=False`` so REQUESTS_CA_BUNDLE cannot override it."""
    if ca_bundle is None:
        return None
    import requests

    session = requests.Session()
    session.verify = str(ca_bundle)
    session.trust_env = False
    return session


def _token_from_result(result: dict[str, Any] | None, what: str) -> tuple[str, float]:
    if not result or "access_token" not in result:
        result = result or {}
        detail = result.get("error_description") or result.get("error") or "no token returned"
        raise AuthError(f"{what} failed: {detail}", code=result.get("error"))
    return str(result["access_token"]), float(result.get("expires_in") or 0)


def msal_app(
    profile: CloudProfile,
    tenant_id: str,
    client_id: str,
    client_secret: str | None,
    ca_bundle: Path | None,
    timeout: float,
) -> Any:
    """MSAL's confidential client; instance discovery only for the real clouds' known authorities."""
    import msal

    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=client_secret,
        authority=profile.authority(tenant_id),
        instance_discovery=profile.known_authority,
        http_client=http_session(ca_bundle),
        timeout=timeout,
    )


class _CachedCredential(ABC):
    """Single-flight cache: concurrent callers share one MSAL round trip."""

    def __init__(self, *, renew_before: float = 300.0, clock: Clock = time.monotonic) -> None:
        self._renew_before = renew_before
        self._clock = clock
        self._current: AccessToken | None = None
        self._lock = asyncio.Lock()

    async def token(self, *, force_refresh: bool = False) -> str:
        stale = self._current
        if not force_refresh and stale is not None and self._clock() < stale.renew_at:
            return stale.value
        async with self._lock:
            current = self._current
            fresh_by_peer = current is not None and current is not stale
            if (
                current is not None
                and self._clock() < current.renew_at
                and (not force_refresh or fresh_by_peer)
            ):
                return current.value
            value, expires_in = await self._acquire()
            now = self._clock()
            self._current = AccessToken(
                value, renew_time(now, expires_in, self._renew_before), now + expires_in
            )
            return value

    @abstractmethod
    async def _acquire(self) -> tuple[str, float]:
        """One MSAL round trip: (access token, seconds until expiry)."""

    authority: str = ""

    async def _in_thread(self, fn: Callable[[], dict[str, Any] | None], what: str) -> dict[str, Any] | None:
        """Run MSAL off the event loop; translate its transport and configuration failures."""
        import requests

        try:
            return await asyncio.to_thread(fn)
        except requests.exceptions.RequestException as exc:
            raise TransportError(
                f"{what}: cannot reach the token authority {self.authority} ({type(exc).__name__})"
            ) from exc
        except ValueError as exc:  # MSAL raises ValueError for unreachable/invalid authorities
            raise AuthError(f"{what}: {exc}") from exc


AppFactory = Callable[[], Any]


class AppOnlyCredential(_CachedCredential):
    """Client-credentials tokens for ``profile.app_scope``."""

    def __init__(
        self,
        profile: CloudProfile,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        *,
        ca_bundle: Path | None = None,
        timeout: float = 30.0,
        app_factory: AppFactory | None = None,
        renew_before: float = 300.0,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(renew_before=renew_before, clock=clock)
        if not (tenant_id and client_id and client_secret):
            raise AuthError(
                "Partner Center credentials incomplete: tenant id, client id and secret are required"
            )
        self._profile = profile
        self.authority = profile.authority(tenant_id)
        self._scopes = [profile.app_scope]
        self._factory = app_factory or (
            lambda: msal_app(profile, tenant_id, client_id, client_secret, ca_bundle, timeout)
        )
        self._app: Any = None

    def _acquire_sync(self) -> dict[str, Any] | None:
        if self._app is None:
            self._app = self._factory()
        self._app.remove_tokens_for_client()  # our cache decides renewal: no stale hand-back
        result: dict[str, Any] | None = self._app.acquire_token_for_client(scopes=self._scopes)
        return result

    async def _acquire(self) -> tuple[str, float]:
        result = await self._in_thread(self._acquire_sync, "app-only token")
        return _token_from_result(result, "app-only token")


class RefreshTokenCredential(_CachedCredential):
    """App+User tokens from a stored refresh token; each new refresh token is written back."""

    def __init__(
        self,
        profile: CloudProfile,
        tenant_id: str,
        client_id: str,
        client_secret: str | None,
        store: SecretStore,
        *,
        secret_name: str = "pc-refresh-token",
        ca_bundle: Path | None = None,
        timeout: float = 30.0,
        app_factory: AppFactory | None = None,
        renew_before: float = 300.0,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(renew_before=renew_before, clock=clock)
        self._store = store
        self._secret_name = secret_name
        self.authority = profile.authority(tenant_id)
        self._scopes = [profile.user_scope]
        self._factory = app_factory or (
            lambda: msal_app(profile, tenant_id, client_id, client_secret, ca_bundle, timeout)
        )
        self._app: Any = None

    async def _acquire(self) -> tuple[str, float]:
        refresh_token = await self._store.get(self._secret_name)
        if not refresh_token:
            raise AuthError(
                f"no refresh token stored under {self._secret_name!r}: run the App+User consent first"
            )

        def call() -> dict[str, Any] | None:
            if self._app is None:
                self._app = self._factory()
            result: dict[str, Any] | None = self._app.acquire_token_by_refresh_token(
                refresh_token, scopes=self._scopes
            )
            return result

        result = await self._in_thread(call, "App+User token")
        token = _token_from_result(result, "App+User token")
        rotated = (result or {}).get("refresh_token")
        if rotated and rotated != refresh_token:
            await self._store.set(self._secret_name, str(rotated))
        return token
