"""Team webhook: POST a JSON payload with an Idempotency-Key, retrying 5xx/429/timeouts a bounded number
of times (exponential backoff with jitter, ``Retry-After`` honoured up to the cap).

The payload carries a top-level ``text`` so that chat webhooks that read only that field (Teams, Slack
style) show something useful; the structured ``data`` is for anything smarter. With ``kind`` set to a chat
platform (WeCom, DingTalk, Feishu; shared/notify/chat.py) the same alert is posted in that platform's format,
signed with its secret, and only the platform's "posted" answer counts as delivered.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from shared.notify.chat import RATE_LIMITED, ChatKind, chat_request, refusal
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
        kind: ChatKind = ChatKind.GENERIC,
        secret: str | None = None,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.url = url
        self.kind = ChatKind(kind)
        self._secret = secret or None
        self._clock_ms = clock_ms
        self.policy = policy or RetryPolicy()
        self._client = client
        self._owns_client = client is None
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> WebhookSender:
        if not settings.team_webhook_url:
            raise NotConfigured("team webhook is not configured: set CSPGUARD_TEAM_WEBHOOK_URL")
        secret = settings.team_webhook_secret.get_secret_value() if settings.team_webhook_secret else None
        return cls(settings.team_webhook_url, kind=ChatKind(settings.team_webhook_kind), secret=secret, **kwargs)

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
            url, body = (self.url, dict(payload)) if self.kind is ChatKind.GENERIC else chat_request(
                self.kind, self.url, str(payload.get("title", "")), _body_text(payload),
                dict(payload.get("data") or {}), secret=self._secret, now_ms=self._clock_ms())  # signed per attempt
            try:
                response = self._http().post(url, json=body, headers=headers, timeout=self.policy.timeout)
            except httpx.TimeoutException as exc:
                last_problem = f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last_problem = f"transport error ({type(exc).__name__}: {exc})"
            else:
                last_status = response.status_code
                refused = self._refused(response) if response.is_success else None
                if response.is_success and refused is None:
                    return WebhookDelivery(status_code=response.status_code, attempts=attempt)
                if refused is not None and refused[0] not in RATE_LIMITED:
                    raise WebhookDeliveryError(
                        f"{self.kind.value} refused the notice: {refused[0]} {refused[1]}", retryable=False,
                        attempts=attempt, status_code=response.status_code)
                if refused is not None:
                    last_problem = f"{self.kind.value} rate limit {refused[0]}"
                    if attempt < self.policy.max_attempts:
                        self._sleep(backoff_delay(attempt, self.policy, None))
                    continue
                if response.status_code not in RETRYABLE_STATUS:
                    raise WebhookDeliveryError(
                        f"webhook refused the notice with HTTP {response.status_code}",
                        retryable=False, attempts=attempt, status_code=response.status_code)
                last_problem = f"HTTP {response.status_code}"
                retry_after = _retry_after_seconds(response)
            if attempt < self.policy.max_attempts:
                self._sleep(backoff_delay(attempt, self.policy, retry_after))
        raise WebhookDeliveryError(
            f"{self.kind.value} webhook still failing after {self.policy.max_attempts} attempt(s): {last_problem}",
            retryable=True, attempts=self.policy.max_attempts, status_code=last_status)

    def _refused(self, response: httpx.Response) -> tuple[int, str] | None:
        if self.kind is ChatKind.GENERIC:
            return None
        try:
            answer = response.json()
        except ValueError:
            answer = response.text
        return refusal(self.kind, answer)


def _body_text(payload: Mapping[str, Any]) -> str:
    """The alert text without the title line the generic payload puts first."""
    text, title = str(payload.get("text", "")), str(payload.get("title", ""))
    return text.removeprefix(title).lstrip("\n") if title else text
