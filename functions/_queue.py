"""Shared receive path of every queue trigger: validate or park, run inside the message's correlation, and
defer (re-enqueue with a delay) what must wait, so a long outage never exhausts the host's attempts."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, TypeVar

import azure.functions as func

if TYPE_CHECKING:
    from pydantic import BaseModel

    from shared.messaging import Envelope
    from shared.storage.idempotency import AlreadyInProgress

T = TypeVar("T")
log = logging.getLogger("cspguard.functions.queue")


def receive(queue: str, msg: func.QueueMessage,
            models: Mapping[str, type[BaseModel]]) -> tuple[Envelope, BaseModel] | None:
    """(envelope, payload), or None when the message was parked in the dead-letter table."""
    from shared.context import get_context
    from shared.messaging.handling import parse_or_park

    return parse_or_park(queue, msg.get_body(), models, get_context().deadletters, msg.dequeue_count or 1)


def defer_or_park(queue: str, msg: func.QueueMessage, envelope: Envelope, why: str,
                  delay_seconds: float | None = None) -> None:
    """Send the message again with a delay (exponential back-off by its ``attempt``, or ``delay_seconds``); after
    ``MAX_DEFERRALS`` park it with its reason. Raises if storage is down: the host then retries the original."""
    from shared.context import get_context
    from shared.messaging.retry import MAX_DEFERRALS, backoff_seconds

    ctx = get_context()
    if envelope.attempt >= MAX_DEFERRALS:
        ctx.deadletters.put(queue, msg.get_body().decode("utf-8", "replace"),
                            f"still failing after {envelope.attempt} deferred attempts: {why}", msg.dequeue_count or 1)
        return
    delay = backoff_seconds(envelope.attempt) if delay_seconds is None else delay_seconds
    log.info("deferring %s message %s by %.0f s (attempt %d): %s", queue, envelope.idempotency_key, delay,
             envelope.attempt + 1, why)
    ctx.producer.send(queue, envelope.model_copy(update={"attempt": envelope.attempt + 1}),
                      delay_seconds=max(1, int(delay)))


def _until_stale(exc: AlreadyInProgress) -> float:
    """Look again when the claim would be stale, or in 30 s if sooner: a live attempt usually finishes first."""
    return min(exc.retry_after.total_seconds() + 2, 30.0)


async def run_or_defer(queue: str, msg: func.QueueMessage, envelope: Envelope, work: Awaitable[T],
                       transient: tuple[type[BaseException], ...] = ()) -> T | None:
    """Run ``work``; a claim held by a live attempt waits until it would be stale, a transient error waits with
    back-off. Returns None when deferred."""
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    from shared.storage.errors import StorageUnavailable
    from shared.storage.idempotency import AlreadyInProgress

    try:
        return await work
    except AlreadyInProgress as exc:
        defer_or_park(queue, msg, envelope, str(exc), _until_stale(exc))
    except (*transient, StorageUnavailable, ServiceRequestError, ServiceResponseError) as exc:  # type: ignore[misc]  # storage down too
        defer_or_park(queue, msg, envelope, f"{type(exc).__name__}: {exc}")
    return None


async def send_or_park(queue: str, msg: func.QueueMessage, envelope: Envelope, send: Awaitable[str]) -> str | None:
    """Run a notification/service-request send: a transient delivery failure (relay down, 4xx) waits and retries
    with back-off until the relay is back; one that can never succeed (bad template data, refused recipient, not
    configured) is parked with its reason."""
    from shared.context import get_context
    from shared.notify import NotifyError
    from shared.notify.errors import DeliveryError
    from shared.storage.idempotency import AlreadyInProgress

    try:
        return await send
    except AlreadyInProgress as exc:
        defer_or_park(queue, msg, envelope, str(exc), _until_stale(exc))
        return None
    except DeliveryError as exc:
        if exc.retryable:
            defer_or_park(queue, msg, envelope, f"delivery failed: {exc}")
            return None
        reason = f"not deliverable: {exc}"
    except NotifyError as exc:
        reason = f"cannot render: {exc}"
    get_context().deadletters.put(queue, msg.get_body().decode("utf-8", "replace"), reason, msg.dequeue_count or 1)
    return None
