"""The versioned envelope every queue message is wrapped in.

The idempotency key is a *business* key chosen by the producer (an event id, "suspend:<customer>:<case>")
because a producer's retry creates a new queue message id; handlers dedupe on this key.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.clock import utcnow
from shared.messaging.errors import MessagingError

SCHEMA_VERSION: Literal[1] = 1


def current_correlation_id() -> str:
    """The correlation id of the work in progress (HTTP request, timer run, message), so a journey keeps one id."""
    from shared.observability import get_correlation_id

    return get_correlation_id() or str(uuid.uuid4())


def _utcnow() -> datetime:
    return utcnow()


class Envelope(BaseModel):
    """One queue message: what it is, who sent it, and a payload whose schema the ``kind`` names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    kind: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_.-]*$")
    idempotency_key: str = Field(min_length=1, max_length=400)
    correlation_id: str = Field(default_factory=current_correlation_id, min_length=1, max_length=100)
    source: str = Field(default="csp-guard", min_length=1, max_length=100)
    created_at: datetime = Field(default_factory=_utcnow)
    payload: dict[str, Any] = Field(default_factory=dict)
    # how many times the app deferred this message itself (transient failure, busy claim): drives the back-off
    attempt: int = Field(default=0, ge=0, le=10_000)


class EnvelopeError(MessagingError, ValueError):
    """A message body that is not a valid envelope; ``reason`` is what an operator reads."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_envelope(body: str | bytes) -> Envelope:
    """Parse a decoded message body into an Envelope, with one readable reason on failure."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EnvelopeError(f"body is not JSON: {exc}") from None
    except RecursionError:  # retrying cannot fix it: park it with its reason instead of ending in poison
        raise EnvelopeError("body nests too deeply to be an envelope") from None
    try:
        return Envelope.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise EnvelopeError(f"not a valid envelope (schema_version {SCHEMA_VERSION}): {details}") from None
