"""What one Partner Center call is (``Call``, built from a path template) and how an attempt is logged."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

log = logging.getLogger("cspguard.partner_center")


@dataclass(slots=True)
class Call:
    """One logical API call; ``template`` names it in logs, ``path`` is the concrete path."""

    method: str
    template: str
    path: str
    query: Mapping[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    customer_id: str | None = None
    app_plus_user: bool = False  # documented for App+User (delegated) authentication only


def build_call(method: str, template: str, params: Mapping[str, str] | None = None, **kwargs: Any) -> Call:
    """Fill ``{name}`` placeholders with URL-quoted params; the customer id selects the pacing scope."""
    params = dict(params or {})
    path = template.format(**{k: quote(str(v), safe="") for k, v in params.items()})
    return Call(method, template, path, customer_id=params.get("customer_id"), **kwargs)


def ssl_context(ca_bundle: Path | None) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=str(ca_bundle)) if ca_bundle else True


def response_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"description": response.text[:500]} if response.text else None


def log_exchange(
    level: int, call: Call, status: int | None, elapsed: float, request_id: str, correlation_id: str
) -> None:
    """One log line per attempt, naming the path template (never the concrete path's ids nor the token)."""
    if not log.isEnabledFor(level):
        return
    log.log(
        level,
        "%s %s -> %s in %.0f ms request_id=%s ms_correlation_id=%s",
        call.method,
        call.template,
        status if status is not None else "error",
        elapsed * 1000,
        request_id,
        correlation_id,
        extra={
            "pc_method": call.method,
            "pc_path": call.template,
            "pc_status": status,
            "pc_duration_ms": round(elapsed * 1000, 1),
            "pc_request_id": request_id,
            "pc_correlation_id": correlation_id,
        },
    )
