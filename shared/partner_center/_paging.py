"""Paging through ``links.next``: pure normalisation of the next-page link into a request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

API_PREFIX = "/v1"


@dataclass(frozen=True, slots=True)
class PageRequest:
    """The request for the next page: a ``/v1``-rooted path (with query) and headers to send back."""

    path: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"


def normalise_uri(uri: str) -> str:
    """Make a next-link uri a ``/v1``-rooted path; the service sometimes omits ``/v1``."""
    uri = uri.strip()
    if uri.lower().startswith(("http://", "https://")):
        parts = urlsplit(uri)
        uri = parts.path + (f"?{parts.query}" if parts.query else "")
    if not uri.startswith("/"):
        uri = "/" + uri
    if (
        uri == API_PREFIX
        or uri.lower().startswith(API_PREFIX + "/")
        or uri.lower().startswith(API_PREFIX + "?")
    ):
        return uri
    return API_PREFIX + uri


def _headers(raw: Any) -> dict[str, str]:
    """Headers arrive as ``[{"key":..., "value":...}]``; accept a plain mapping too."""
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items() if v is not None}
    out: dict[str, str] = {}
    for item in raw or []:
        if isinstance(item, Mapping):
            key = item.get("key", item.get("Key"))
            value = item.get("value", item.get("Value"))
            if key and value is not None:
                out[str(key)] = str(value)
    return out


def next_page(body: Mapping[str, Any]) -> PageRequest | None:
    """The request for the page after ``body``, or None when ``links.next`` is absent."""
    links = body.get("links") or {}
    nxt = links.get("next") if isinstance(links, Mapping) else None
    if not isinstance(nxt, Mapping) or not nxt.get("uri"):
        return None
    return PageRequest(
        path=normalise_uri(str(nxt["uri"])),
        headers=_headers(nxt.get("headers")),
        method=str(nxt.get("method") or "GET").upper(),
    )
