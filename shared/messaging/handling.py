"""The receiving side of the queue contract, shared by every queue-triggered function.

A body that is not a valid envelope, or whose payload does not validate for its kind, can never succeed
on retry: it is parked in the dead-letter table with its reason (and the function completes), instead
of burning the host's retries and ending in a poison queue without an explanation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from shared.messaging.envelope import Envelope, EnvelopeError, decode_envelope

if TYPE_CHECKING:
    from shared.storage.deadletters import DeadLetterStore


def validation_reason(exc: ValidationError) -> str:
    """One line per problem, naming the field: what an operator needs to fix a message."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in exc.errors())


def parse_or_park(
    queue: str,
    body: bytes | str,
    payload_models: Mapping[str, type[BaseModel]],
    deadletters: DeadLetterStore,
    dequeue_count: int = 1,
) -> tuple[Envelope, Any] | None:
    """Return (envelope, typed payload), or park the message and return None."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        envelope = decode_envelope(text)
    except EnvelopeError as exc:
        deadletters.put(queue, text, exc.reason, dequeue_count)
        return None
    model = payload_models.get(envelope.kind)
    if model is None:
        known = ", ".join(sorted(payload_models))
        deadletters.put(queue, text, f"unknown kind {envelope.kind!r} for queue {queue} (known: {known})",
                        dequeue_count)
        return None
    try:
        payload = model.model_validate(envelope.payload)
    except ValidationError as exc:
        deadletters.put(queue, text, f"invalid {envelope.kind} payload: {validation_reason(exc)}", dequeue_count)
        return None
    return envelope, payload
