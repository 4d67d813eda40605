"""The error tree and the pure mapping from an HTTP error response to it.

Mapping is by Partner Center error code first (codes are precise), then by HTTP status, so callers
can catch what they mean (``RestrictionError`` for a business rule, ``NotFound`` for a missing
resource) without parsing bodies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


class Codes:
    """Partner Center error codes this client acts on (normalised to ``str``)."""

    ETAG_MISMATCH = "2055"
    DELETED_NOT_UPDATABLE = "2011"
    SUSPENDED_NOT_EDITABLE = "800091"
    ADDON_PARENT_NOT_ACTIVE = "27009"
    AZURE_PLAN_HAS_ACTIVE_SUBSCRIPTIONS = "900115"
    NOT_READY = "800082"


RESTRICTION_CODES = frozenset(
    {
        Codes.DELETED_NOT_UPDATABLE,
        Codes.SUSPENDED_NOT_EDITABLE,
        Codes.ADDON_PARENT_NOT_ACTIVE,
        Codes.AZURE_PLAN_HAS_ACTIVE_SUBSCRIPTIONS,
        Codes.NOT_READY,
    }
)


class PartnerCenterError(Exception):
    """Root of every error this package raises; carries what support needs to trace a call."""

    def __init__(
        self,
        description: str,
        *,
        code: str | int | None = None,
        status: int | None = None,
        request_id: str | None = None,
        correlation_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.code = normalise_code(code)
        self.status = status
        self.request_id = request_id
        self.correlation_id = correlation_id
        self.retry_after = retry_after
        # set by the transport: an earlier attempt of this same call failed in a way that may mean it was
        # processed (timeout, 5xx), so a refusal now ("already cancelled", "in progress") may follow a change
        self.maybe_applied_earlier = False

    def __str__(self) -> str:
        parts = [self.description]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        if self.correlation_id:
            parts.append(f"correlation_id={self.correlation_id}")
        return " ".join(parts)


class AuthError(PartnerCenterError):
    """No usable token, or the token was refused (401)."""


class PermissionDenied(AuthError):
    """The token is valid but not allowed to do this (403 without a restriction code)."""


class CapabilityNotAvailable(PartnerCenterError):
    """The operation does not exist in the configured cloud (e.g. fraud events in 21Vianet)."""


class RequestError(PartnerCenterError):
    """The service refused the request (4xx); retrying the same request will not help."""


class NotFound(RequestError):
    """404: the customer or subscription does not exist (or is not ours)."""


class Conflict(RequestError):
    """409 without a more precise code."""


class EtagMismatch(Conflict):
    """Code 2055 (or 412): the etag is stale; re-GET and retry once."""


class RestrictionError(RequestError):
    """A business rule (800091, 27009, 900115, 2011, 800082): ``code`` says which."""


class Throttled(PartnerCenterError):
    """429 that outlived every retry; ``retry_after`` is the service's last hint."""


class ServerError(PartnerCenterError):
    """5xx (or 408) that outlived every retry."""


class TransportError(PartnerCenterError):
    """Network failure or timeout that outlived every retry; ``timed_out`` when no answer came in time."""

    def __init__(self, description: str, *, timed_out: bool = False, **kwargs: Any) -> None:
        super().__init__(description, **kwargs)
        self.timed_out = timed_out


def normalise_code(code: object) -> str | None:
    """Codes arrive as ``"2055"`` or ``2055``; compare them as strings."""
    if code is None or code == "":
        return None
    if isinstance(code, float) and code.is_integer():
        code = int(code)
    return str(code).strip()


_RETRY_IN = re.compile(r"try again in (\d+(?:\.\d+)?) second", re.IGNORECASE)


def parse_retry_after(header: str | None, body: Mapping[str, Any] | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds form), else from the 429 body's message."""
    if header:
        try:
            return max(0.0, float(header.strip()))
        except ValueError:
            pass  # HTTP-date form: not used by Partner Center; fall through to the body
    if body:
        match = _RETRY_IN.search(str(body.get("message", "")))
        if match:
            return float(match.group(1))
    return None


def error_from_response(
    status: int,
    body: Any,
    *,
    retry_after_header: str | None = None,
    request_id: str | None = None,
    correlation_id: str | None = None,
) -> PartnerCenterError:
    """Build the most precise error for a non-2xx response (pure)."""
    data: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    code = normalise_code(data.get("code"))
    description = str(data.get("description") or data.get("message") or f"HTTP {status}")
    kwargs: dict[str, Any] = {
        "code": code,
        "status": status,
        "request_id": request_id,
        "correlation_id": correlation_id,
    }
    cls: type[PartnerCenterError]
    if status == 429:
        kwargs["retry_after"] = parse_retry_after(retry_after_header, data)
        cls = Throttled
    elif code == Codes.ETAG_MISMATCH or status == 412:
        cls = EtagMismatch
    elif code in RESTRICTION_CODES:
        cls = RestrictionError
    elif status == 401:
        cls = AuthError
    elif status == 403:
        cls = PermissionDenied
    elif status == 404:
        cls = NotFound
    elif status == 409:
        cls = Conflict
    elif status == 408 or status >= 500:
        cls = ServerError
    else:
        cls = RequestError
    return cls(description, **kwargs)
