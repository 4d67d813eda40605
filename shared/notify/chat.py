"""Team alerts where the team lives: WeCom (企业微信) and DingTalk group robots, Feishu/Lark custom bots, or a
generic JSON webhook; each in its platform's documented message format and signing.

- WeCom group robot: POST ``{"msgtype": "markdown", "markdown": {"content": ...}}`` (at most 4096 bytes) to
  ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...``; no signing (the key is the secret).
- DingTalk custom robot: ``{"msgtype": "markdown", "markdown": {"title", "text"}}``; with a signing secret the
  URL gets ``timestamp`` (ms) and ``sign`` = urlencode(base64(HMAC-SHA256(key=secret, "<timestamp>\\n<secret>"))).
- Feishu/Lark custom bot: ``{"msg_type": "text", "content": {"text": ...}}``; with a signing secret the body
  gets ``timestamp`` (s) and ``sign`` = base64(HMAC-SHA256(key="<timestamp>\\n<secret>", empty message)).
All three answer HTTP 200 even when they refuse: the JSON ``errcode``/``code`` says whether the message was
posted, so only 0 counts as delivered (frequency limits are retried, anything else is a permanent refusal).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from enum import StrEnum
from typing import Any
from urllib.parse import quote_plus

WECOM_MAX_BYTES = 4096
# platform error codes that mean "slow down", not "never": WeCom 45009, DingTalk 130101, Feishu 11232
RATE_LIMITED = frozenset({45009, 130101, 11232})


class ChatKind(StrEnum):
    GENERIC = "generic"
    WECOM = "wecom"
    DINGTALK = "dingtalk"
    FEISHU = "feishu"


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The DingTalk ``sign`` query value (already URL-encoded)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """The Feishu/Lark ``sign`` body value."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _truncate_bytes(text: str, limit: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[:limit - 3].decode("utf-8", "ignore") + "..."


def chat_request(kind: ChatKind, url: str, title: str, text: str, data: dict[str, Any], *, secret: str | None,
                 now_ms: int) -> tuple[str, dict[str, Any]]:
    """(URL, JSON body) for one alert (pure; ``now_ms`` is the signing time)."""
    if kind is ChatKind.WECOM:
        content = _truncate_bytes(f"**{title}**\n\n{text}", WECOM_MAX_BYTES)
        return url, {"msgtype": "markdown", "markdown": {"content": content}}
    if kind is ChatKind.DINGTALK:
        body: dict[str, Any] = {"msgtype": "markdown",
                                "markdown": {"title": title[:100], "text": f"### {title}\n\n{text}"}}
        if secret:
            sep = "&" if "?" in url else "?"
            url = f"{url}{sep}timestamp={now_ms}&sign={dingtalk_sign(secret, now_ms)}"
        return url, body
    if kind is ChatKind.FEISHU:
        body = {"msg_type": "text", "content": {"text": f"{title}\n\n{text}"}}
        if secret:
            seconds = now_ms // 1000
            body = {"timestamp": str(seconds), "sign": feishu_sign(secret, seconds), **body}
        return url, body
    return url, {"source": "csp-guard", "title": title, "text": f"{title}\n\n{text}", "data": data}


def refusal(kind: ChatKind, answer: Any) -> tuple[int, str] | None:
    """(code, message) when a chat platform's JSON answer says it did not post the message, else None."""
    if kind is ChatKind.GENERIC or not isinstance(answer, dict):
        return None if kind is ChatKind.GENERIC else (-1, f"unreadable answer: {str(answer)[:200]}")
    code = str(answer.get("errcode", answer.get("code", answer.get("StatusCode", 0))))
    if code in ("0", "None"):
        return None
    return int(code) if code.lstrip("-").isdigit() else -1, str(answer.get("errmsg") or answer.get("msg") or "")
