"""Team webhook through a real HTTP server on 127.0.0.1: retries, Idempotency-Key, permanent refusals."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shared.notify import (
    Channel,
    NotConfigured,
    Notification,
    RetryPolicy,
    TemplateId,
    WebhookDeliveryError,
    WebhookSender,
    send_notification,
)
from shared.notify.webhook import backoff_delay
from tests.notify.conftest import make_settings
from tests.notify.samples import SAMPLES

pytestmark = pytest.mark.integration


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Hook:
    """A scripted webhook: answers with ``script`` in order (then 200) and records every request."""

    url: str
    script: list[Reply]
    requests: list[dict[str, Any]]


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook(url="", script=[], requests=[])
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                state.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "json": json.loads(body)})
                reply = state.script.pop(0) if state.script else Reply()
            if reply.delay:
                time.sleep(reply.delay)
            try:
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/team"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _alert(key: str = "alert:fraud:cust-42:FRD-0007", lang: str = "zh-CN") -> Notification:
    return Notification(idempotency_key=key, channel=Channel.WEBHOOK, recipient="team",
                        template_id=TemplateId.TEAM_FRAUD_ALERT, language=lang,
                        context=SAMPLES[TemplateId.TEAM_FRAUD_ALERT])


def _sender(url: str, delays: list[float], **policy: Any) -> WebhookSender:
    return WebhookSender(url, policy=RetryPolicy(**{"max_attempts": 3, **policy}), sleep=delays.append)


def test_posts_json_with_idempotency_key(hook: Hook) -> None:
    settings = make_settings(CSPGUARD_TEAM_WEBHOOK_URL=hook.url)
    result = send_notification(_alert(), settings)
    assert result.http_status == 200 and result.attempts == 1
    [req] = hook.requests
    assert req["path"] == "/hooks/team"
    assert req["headers"]["Idempotency-Key"] == "alert:fraud:cust-42:FRD-0007"
    assert req["headers"]["Content-Type"] == "application/json"
    payload = req["json"]
    assert payload["template_id"] == "team_fraud_alert" and payload["language"] == "zh-CN"
    assert payload["title"].startswith("【高风险】疑似欺诈")
    assert "1,920 core-hours (48x baseline)" in payload["text"]
    assert payload["data"]["customer"]["name"] == "北京示例科技有限公司"


def test_retries_503_with_the_same_key(hook: Hook) -> None:
    hook.script[:] = [Reply(503), Reply(503, {"Retry-After": "2"})]
    delays: list[float] = []
    with _sender(hook.url, delays) as sender:
        result = send_notification(_alert(), make_settings(), webhook=sender)
    assert result.http_status == 200 and result.attempts == 3
    assert len(hook.requests) == 3
    keys = {r["headers"]["Idempotency-Key"] for r in hook.requests}
    assert keys == {"alert:fraud:cust-42:FRD-0007"}
    assert len(delays) == 2
    assert delays[1] == 2.0  # Retry-After honoured


def test_gives_up_after_bounded_attempts_and_says_retryable(hook: Hook) -> None:
    hook.script[:] = [Reply(502)] * 5
    delays: list[float] = []
    with _sender(hook.url, delays) as sender, pytest.raises(WebhookDeliveryError) as err:
        send_notification(_alert(), make_settings(), webhook=sender)
    assert err.value.retryable is True and err.value.attempts == 3 and err.value.status_code == 502
    assert len(hook.requests) == 3
    assert len(delays) == 2


def test_client_error_is_not_retried(hook: Hook) -> None:
    hook.script[:] = [Reply(400)]
    delays: list[float] = []
    with _sender(hook.url, delays) as sender, pytest.raises(WebhookDeliveryError) as err:
        send_notification(_alert(), make_settings(), webhook=sender)
    assert err.value.retryable is False and err.value.status_code == 400
    assert len(hook.requests) == 1 and delays == []


def test_timeout_is_retried(hook: Hook) -> None:
    hook.script[:] = [Reply(200, delay=0.6)]
    delays: list[float] = []
    with _sender(hook.url, delays, timeout=0.2) as sender:
        result = send_notification(_alert(), make_settings(), webhook=sender)
    assert result.attempts == 2 and len(delays) == 1
    assert len(hook.requests) == 2


def test_connection_refused_is_retryable() -> None:
    from devtools.azurite import free_port

    delays: list[float] = []
    with _sender(f"http://127.0.0.1:{free_port()}/", delays) as sender, \
            pytest.raises(WebhookDeliveryError) as err:
        send_notification(_alert(), make_settings(), webhook=sender)
    assert err.value.retryable is True and err.value.attempts == 3


def test_missing_webhook_setting_is_a_permanent_error() -> None:
    with pytest.raises(NotConfigured) as err:
        send_notification(_alert(), make_settings())
    assert err.value.retryable is False


def test_backoff_is_bounded_and_grows() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=8.0)
    ceilings = [backoff_delay(n, policy, None, rand=lambda: 1.0) for n in range(1, 8)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert backoff_delay(1, policy, 120.0) == 8.0  # a huge Retry-After is capped
    assert backoff_delay(3, policy, None, rand=lambda: 0.0) == 0.0
