"""The imperative shell around every HTTP call: token, pacing, concurrency, retries, headers, logging.

Each attempt is paced (partner scope, plus the customer's scope for customer-scoped paths; a retry
waits ahead of new calls and a 429 slows the pacer), bounded by a pool of single-connection lanes
(``max_concurrency``), retried per ``_retry``, logged once with its path template (never the token),
and turned into the ``PartnerCenterError`` tree where httpx or the service fails.

Headers: ``MS-Contract-Version`` (documented as required), ``MS-RequestId`` (new after any answer,
the same only when retrying after a timeout) and ``MS-CorrelationId``: the journey's correlation id
(HTTP request, timer run, queue message; ``shared.observability``) as a GUID, see ``ms_correlation_id``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception

from shared.observability import get_correlation_id

from ._auth import TokenProvider
from ._calls import Call, build_call, log, log_exchange, response_body, ssl_context
from ._errors import AuthError, PartnerCenterError, Throttled, TransportError, error_from_response
from ._headers import CONTRACT_VERSION, ms_correlation_id
from ._pacing import Pacer
from ._paging import next_page
from ._retry import RetryPolicy, is_retryable, reuses_request_id, stop_retrying, wait_backoff

__all__ = ["Call", "Transport", "build_call", "ssl_context"]

class Transport:
    """Sends ``Call``s to one Partner Center base URL."""

    def __init__(
        self,
        base_url: str,
        credential: TokenProvider,
        pacer: Pacer,
        *,
        max_concurrency: int = 8,
        timeout: float = 30.0,
        ca_bundle: Path | None = None,
        retry: RetryPolicy | None = None,
        correlation_id: str | None = None,
        application: str = "csp-guard",
        contract_version: str = CONTRACT_VERSION,
        http: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        user_credential: TokenProvider | None = None,
    ) -> None:
        self._credential = credential
        self._user_credential = user_credential
        self._pacer = pacer
        self._retry = retry or RetryPolicy()
        self._default_correlation = correlation_id or str(uuid.uuid4())
        self._application = application
        self._contract_version = contract_version
        self._sleep = sleep
        # Lanes: one single-connection AsyncClient per concurrent request. httpcore's pool scans every
        # connection (an anyio TLS attribute lookup each) for every request event; one pool of 24
        # connections cost about 2 ms of client CPU per request in the listing benchmark (5.1 -> 2.9
        # ms with lanes). The pacer bounds calls in flight to the same number, so a lane is always free.
        if http is not None:
            self._clients = [http]
        else:
            verify = ssl_context(ca_bundle)
            self._clients = [
                httpx.AsyncClient(
                    base_url=base_url,
                    timeout=httpx.Timeout(timeout),
                    verify=verify,
                    trust_env=ca_bundle is None,  # a private CA means a private endpoint: ignore env
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                )
                for _ in range(max_concurrency)
            ]
        self._lanes: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for k in range(max_concurrency):
            self._lanes.put_nowait(self._clients[k % len(self._clients)])
        self.requests_sent = 0
        self.throttled_responses = 0

    @property
    def correlation_id(self) -> str:
        """MS-CorrelationId for calls made now: the current journey's, else this client's own."""
        return ms_correlation_id(get_correlation_id() or self._default_correlation)

    @property
    def pacer(self) -> Pacer:
        return self._pacer

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def send(self, call: Call) -> httpx.Response:
        """Send with retries; return the 2xx response or raise the mapped error."""
        request_id = str(uuid.uuid4())
        last: BaseException | None = None
        retrying = AsyncRetrying(
            stop=stop_retrying(self._retry, asyncio.get_running_loop().time),
            wait=wait_backoff(self._retry),
            retry=retry_if_exception(is_retryable),
            sleep=self._sleep,
            reraise=True,
        )
        maybe_applied = False  # an attempt so far failed after Partner Center may have processed it
        async for attempt in retrying:
            with attempt:
                if last is not None and not reuses_request_id(last):
                    request_id = str(uuid.uuid4())
                try:
                    # A retry waits for its slot ahead of every new call (priority = attempts so far).
                    priority = attempt.retry_state.attempt_number - 1
                    return await self._send_refreshing(call, request_id, priority)
                except PartnerCenterError as exc:
                    exc.maybe_applied_earlier = maybe_applied
                    maybe_applied = maybe_applied or (is_retryable(exc) and not isinstance(exc, Throttled))
                    last = exc
                    if is_retryable(exc):
                        log.warning("partner center retry %s %s after %s", call.method, call.template, exc)
                    raise
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def _send_refreshing(self, call: Call, request_id: str, priority: int) -> httpx.Response:
        """One attempt; a 401 gets one more try with a forced token refresh and a new request id."""
        try:
            return await self._send_once(call, request_id, priority, force_refresh=False)
        except AuthError as exc:
            if exc.status != 401:
                raise
            return await self._send_once(call, str(uuid.uuid4()), priority, force_refresh=True)

    async def _send_once(
        self, call: Call, request_id: str, priority: int, *, force_refresh: bool
    ) -> httpx.Response:
        token = await self._credential_for(call).token(force_refresh=force_refresh)
        correlation_id = self.correlation_id
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "MS-Contract-Version": self._contract_version,
            "MS-RequestId": request_id,
            "MS-CorrelationId": correlation_id,
            "MS-PartnerCenter-Application": self._application,
            **call.headers,
        }
        grant = await self._pacer.acquire(call.customer_id, priority)
        try:
            response, elapsed = await self._request(call, headers, request_id, correlation_id)
        finally:
            self._pacer.release()
        ok = response.is_success
        log_exchange(
            logging.INFO if ok else logging.WARNING,
            call,
            response.status_code,
            elapsed,
            request_id,
            correlation_id,
        )
        if ok:
            return response
        error = error_from_response(
            response.status_code,
            response_body(response),
            retry_after_header=response.headers.get("Retry-After"),
            request_id=response.headers.get("MS-RequestId", request_id),
            correlation_id=response.headers.get("MS-CorrelationId", correlation_id),
        )
        if isinstance(error, Throttled):
            self.throttled_responses += 1
            wait = None if error.retry_after is None else min(error.retry_after, self._retry.max_retry_after)
            self._pacer.throttled(grant, wait)
        raise error

    def _credential_for(self, call: Call) -> TokenProvider:
        if not call.app_plus_user:
            return self._credential
        if self._user_credential is None:
            raise AuthError(
                f"{call.method} {call.template} needs App+User authentication: set "
                "CSPGUARD_PC_REFRESH_TOKEN_DIR to the directory holding the consented refresh token"
            )
        return self._user_credential

    async def _request(
        self, call: Call, headers: dict[str, str], request_id: str, correlation_id: str
    ) -> tuple[httpx.Response, float]:
        """The HTTP exchange on a free lane (one is always free: the pacer bounds calls in flight)."""
        lane = await self._lanes.get()
        started = time.perf_counter()
        self.requests_sent += 1
        try:
            response = await lane.request(
                call.method, call.path, params=call.query, json=call.json, headers=headers
            )
        except httpx.HTTPError as exc:
            elapsed = time.perf_counter() - started
            log_exchange(logging.WARNING, call, None, elapsed, request_id, correlation_id)
            timed_out = isinstance(exc, httpx.TimeoutException)
            kind = "timeout" if timed_out else type(exc).__name__
            raise TransportError(
                f"{call.method} {call.template}: {kind}: {exc}".rstrip(": "),
                timed_out=timed_out,
                request_id=request_id,
                correlation_id=correlation_id,
            ) from exc
        finally:
            self._lanes.put_nowait(lane)
        return response, time.perf_counter() - started

    async def json(self, call: Call) -> Any:
        response = await self.send(call)
        return response.json() if response.content else None

    async def pages(self, call: Call) -> AsyncIterator[dict[str, Any]]:
        """Yield each collection page body, following ``links.next`` with its continuation headers.

        A bare JSON array (fraud events may come so) is one page: ``{"items": [...]}``.
        """
        current: Call | None = call
        while current is not None:
            body = await self.json(current)
            if isinstance(body, list):
                yield {"items": body}
                return
            if not isinstance(body, dict):
                return
            yield body
            nxt = next_page(body)
            current = (
                None
                if nxt is None
                else Call(
                    nxt.method,
                    call.template + " (next page)",
                    nxt.path,
                    headers=dict(nxt.headers),
                    customer_id=call.customer_id,
                    app_plus_user=call.app_plus_user,
                )
            )
