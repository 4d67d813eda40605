"""Team webhook: POST a JSON payload with an Idempotency-Key, retrying 5xx/429/timeouts a bounded number
of times (exponential backoff with jitter, ``Retry-After`` honoured up to the cap).

The payload carries a top-level ``text`` so that chat webhooks that read only that field (Teams, Slack
style) show something useful; the structured ``data`` is for anything smarter.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from shared.notify.errors import NotConfigured, WebhookDeliveryError
from shared.settings import Settings

USER_AGENT = "csp-guard-notify/1"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class RetryPolicy(BaseModel):
    """How hard to try: ``max_attempts`` in total, delays ``base * 2**n`` with full jitter, capped."""

    model_config = ConfigDict(frozen=True)

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    timeout: float = 10.0


class WebhookDelivery(BaseModel):
    model_config = ConfigDict(frozen=True)

    status_code: int
    attempts: int


def backoff_delay(attempt: int, policy: RetryPolicy, retry_after: float | None,
                  rand: Callable[[], float] = random.random) -> float:
    """Delay before attempt ``attempt + 1`` (``attempt`` counts from 1). Pure apart from ``rand``."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), policy.backoff_cap)
    ceiling = min(policy.backoff_cap, policy.backoff_base * (2 ** (attempt - 1)))
    return ceiling * rand()


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # HTTP-date form: fall back to our own backoff


class WebhookSender:
    """Posts JSON to one webhook URL. Pass ``client`` to share a connection pool or in tests."""

    def __init__(
        self,
        url: str,
        *,
        policy: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.policy = policy or RetryPolicy()
        self._client = client
        self._owns_client = client is None
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> WebhookSender:
        if not settings.team_webhook_url:
            raise NotConfigured("team webhook is not configured: set CSPGUARD_TEAM_WEBHOOK_URL")
        return cls(settings.team_webhook_url, **kwargs)

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.policy.timeout, headers={"User-Agent": USER_AGENT})
        return self._client

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def post(self, payload: Mapping[str, Any], *, idempotency_key: str) -> WebhookDelivery:
        """POST until a 2xx, a permanent 4xx (raised, not retried) or ``max_attempts`` is reached."""
        headers = {"Idempotency-Key": idempotency_key, "User-Agent": USER_AGENT}
        last_problem = ""
        last_status: int | None = None
        for attempt in range(1, self.policy.max_attempts + 1):
            retry_after: float | None = None
            try:
                response = self._http().post(self.url, json=dict(payload), headers=headers,
                                             timeout=self.policy.timeout)
            except httpx.TimeoutException as exc:
                last_problem = f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last_problem = f"transport error ({type(exc).__name__}: {exc})"
            else:
                last_status = response.status_code
                if response.is_success:
                    return WebhookDelivery(status_code=response.status_code, attempts=attempt)
                if response.status_code not in RETRYABLE_STATUS:
                    raise WebhookDeliveryError(
                        f"webhook refused the notice with HTTP {response.status_code}",
                        retryable=False, attempts=attempt, status_code=response.status_code)
                last_problem = f"HTTP {response.status_code}"
                retry_after = _retry_after_seconds(response)
            if attempt < self.policy.max_attempts:
                self._sleep(backoff_delay(attempt, self.policy, retry_after))
        raise WebhookDeliveryError(
            f"webhook still failing after {self.policy.max_attempts} attempt(s): {last_problem}",
            retryable=True, attempts=self.policy.max_attempts, status_code=last_status)
