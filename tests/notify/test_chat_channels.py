"""Team alerts to WeCom, DingTalk and Feishu robots through a real HTTP receiver on 127.0.0.1 that checks each
platform's message format and verifies its signature the way the platform documents it (written here from the
platforms' rules, not with csp-guard's signing code), and answers as the platform does (HTTP 200 + errcode)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.notify import (
    Channel,
    Notification,
    RetryPolicy,
    TemplateId,
    WebhookDeliveryError,
    WebhookSender,
    send_notification,
)
from tests.notify.conftest import make_settings
from tests.notify.samples import SAMPLES

pytestmark = pytest.mark.integration
SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"


@dataclass
class Robot:
    """One fake group robot. ``secret`` None: no signing required. ``busy`` answers that many rate limits."""

    kind: str
    secret: str | None = None
    busy: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def check(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        query = parse_qs(urlsplit(path).query)
        now = time.time()
        if self.kind == "wecom":
            if query.get("key") != ["robot-key"]:
                return {"errcode": 93000, "errmsg": "invalid webhook url"}
            content = body.get("markdown", {}).get("content") if body.get("msgtype") == "markdown" else None
            if not isinstance(content, str) or len(content.encode()) > 4096:
                return {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}
        elif self.kind == "dingtalk":
            if body.get("msgtype") != "markdown" or not body.get("markdown", {}).get("title"):
                return {"errcode": 40035, "errmsg": "缺少参数 json"}
            if self.secret:
                ts, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]  # parse_qs URL-decodes
                expected = base64.b64encode(hmac.new(self.secret.encode(), f"{ts}\n{self.secret}".encode(),
                                                     hashlib.sha256).digest()).decode()
                if not ts.isdigit() or abs(now * 1000 - int(ts)) > 3_600_000 or sign != expected:
                    return {"errcode": 310000, "errmsg": "sign not match"}
        elif self.kind == "feishu":
            if body.get("msg_type") != "text" or not body.get("content", {}).get("text"):
                return {"code": 9499, "msg": "Bad Request"}
            if self.secret:
                ts = str(body.get("timestamp", ""))
                key = f"{ts}\n{self.secret}".encode()
                expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
                if not ts.isdigit() or abs(now - int(ts)) > 3600 or body.get("sign") != expected:
                    return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}
        if self.busy:
            self.busy -= 1
            code = {"wecom": 45009, "dingtalk": 130101, "feishu": 11232}[self.kind]
            return {"errcode": code, "errmsg": "api freq out of limit"} if self.kind != "feishu" else \
                {"code": code, "msg": "frequency limited"}
        self.received.append(body)
        return {"code": 0, "msg": "success"} if self.kind == "feishu" else {"errcode": 0, "errmsg": "ok"}


@pytest.fixture
def robot_server() -> Iterator[dict[str, Robot]]:
    robots: dict[str, Robot] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            robot = robots[urlsplit(self.path).path.strip("/")]
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            answer = json.dumps(robot.check(self.path, body)).encode()
            self.send_response(200)  # these platforms answer 200 and put the verdict in the body
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    class Robots(dict[str, Robot]):
        def add(self, name: str, robot: Robot, query: str = "") -> Robot:
            robot.url = f"{base}/{name}{query}"
            robots[name] = robot
            return robot

    try:
        yield Robots()
    finally:
        server.shutdown()


FAST = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_cap=0.02, timeout=5)
TITLE = "Suspension FAILED for 某某科技有限公司"
PAYLOAD = {"title": TITLE, "text": f"{TITLE}\n\nCheck it.", "data": {"case": "c-1"}}


@pytest.mark.parametrize(("kind", "query"), [("wecom", "?key=robot-key"), ("dingtalk", "?access_token=t"),
                                             ("feishu", "")])
def test_each_platform_gets_its_format_signed_with_its_secret(robot_server: Any, kind: str, query: str) -> None:
    robot = robot_server.add(kind, Robot(kind, None if kind == "wecom" else SECRET), query)
    with WebhookSender(robot.url, kind=kind, secret=SECRET, policy=FAST) as sender:  # type: ignore[arg-type]
        delivery = sender.post(PAYLOAD, idempotency_key="k1")
    assert delivery.attempts == 1 and len(robot.received) == 1
    text = json.dumps(robot.received[0], ensure_ascii=False)
    assert "某某科技有限公司" in text and "Check it." in text


@pytest.mark.parametrize("kind", ["dingtalk", "feishu"])
def test_a_wrong_secret_is_a_permanent_refusal_not_a_delivery(robot_server: Any, kind: str) -> None:
    robot = robot_server.add(kind, Robot(kind, SECRET))
    sender = WebhookSender(robot.url, kind=kind, secret="not-the-secret", policy=FAST)  # type: ignore[arg-type]
    with sender, pytest.raises(WebhookDeliveryError) as err:
        sender.post(PAYLOAD, idempotency_key="k2")
    assert not err.value.retryable and err.value.attempts == 1 and robot.received == []
    assert "sign" in str(err.value)


@pytest.mark.parametrize("kind", ["wecom", "dingtalk", "feishu"])
def test_rate_limits_are_retried(robot_server: Any, kind: str) -> None:
    robot = robot_server.add(kind, Robot(kind, None, busy=2), "?key=robot-key" if kind == "wecom" else "")
    with WebhookSender(robot.url, kind=kind, policy=FAST) as sender:  # type: ignore[arg-type]
        assert sender.post(PAYLOAD, idempotency_key="k3").attempts == 3
    assert len(robot.received) == 1


def test_wecom_markdown_stays_within_4096_bytes(robot_server: Any) -> None:
    robot = robot_server.add("wecom", Robot("wecom"), "?key=robot-key")
    long = {"title": "长", "text": "欠款" * 3000}
    with WebhookSender(robot.url, kind="wecom", policy=FAST) as sender:  # type: ignore[arg-type]
        sender.post(long, idempotency_key="k4")
    assert len(robot.received[0]["markdown"]["content"].encode()) <= 4096


def test_settings_choose_the_channel_for_a_real_team_alert(robot_server: Any) -> None:
    robot = robot_server.add("dingtalk", Robot("dingtalk", SECRET), "?access_token=t")
    settings = make_settings(CSPGUARD_TEAM_WEBHOOK_URL=robot.url, CSPGUARD_TEAM_WEBHOOK_KIND="dingtalk",
                             CSPGUARD_TEAM_WEBHOOK_SECRET=SECRET)
    sample = SAMPLES[TemplateId.TEAM_ACTION_FAILED]
    note = Notification(idempotency_key="alert-1", channel=Channel.WEBHOOK, recipient="team",
                        template_id=TemplateId.TEAM_ACTION_FAILED, context=sample)
    result = send_notification(note, settings)
    assert result.http_status == 200 and len(robot.received) == 1
    assert robot.received[0]["markdown"]["title"] == result.subject
