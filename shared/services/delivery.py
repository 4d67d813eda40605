"""What happens to a queue message whose work fails: the one set of rules every queue trigger follows.

A claim held by a live attempt waits until it would be stale; a transient error (storage, Partner Center, a
relay) is sent again with back-off (``Envelope.attempt``), so a long outage never exhausts the host's attempts;
after ``MAX_DEFERRALS`` it is parked with its reason; what can never succeed (a notice that cannot be rendered or
delivered, a payment event the ledger refuses) is parked at once. ``functions/_queue.py`` and the functional
tier's host both call these, with the message as the host delivered it (``Received``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from shared.messaging import Envelope
    from shared.ports import Ports
    from shared.storage.idempotency import AlreadyInProgress

T = TypeVar("T")
log = logging.getLogger("cspguard.delivery")


@dataclass(frozen=True)
class Received:
    """One delivered message: its queue, its body as delivered, how often the host delivered it, its envelope."""

    queue: str
    body: str
    dequeue_count: int
    envelope: Envelope


def park(ports: Ports, m: Received, reason: str) -> None:
    ports.deadletters.put(m.queue, m.body, reason, m.dequeue_count)


def defer_or_park(ports: Ports, m: Received, why: str, delay_seconds: float | None = None) -> None:
    """Send the message again with a delay (back-off by its ``attempt``, or ``delay_seconds``); after
    ``MAX_DEFERRALS`` park it with its reason. Raises if storage is down: the host then retries the original."""
    from shared.messaging.retry import MAX_DEFERRALS, backoff_seconds

    env = m.envelope
    if env.attempt >= MAX_DEFERRALS:
        park(ports, m, f"still failing after {env.attempt} deferred attempts: {why}")
        return
    delay = backoff_seconds(env.attempt) if delay_seconds is None else delay_seconds
    log.info("deferring %s message %s by %.0f s (attempt %d): %s", m.queue, env.idempotency_key, delay,
             env.attempt + 1, why)
    ports.producer.send(m.queue, env.model_copy(update={"attempt": env.attempt + 1}), delay_seconds=max(1, int(delay)))


def until_stale(exc: AlreadyInProgress) -> float:
    """Look again when the claim would be stale, or in 30 s if sooner: a live attempt usually finishes first."""
    return min(exc.retry_after.total_seconds() + 2, 30.0)


async def run_or_defer(ports: Ports, m: Received, work: Awaitable[T],
                       transient: tuple[type[BaseException], ...] = ()) -> T | None:
    """Run ``work``; a live claim or a transient error defers the message. Returns None when deferred."""
    from shared.storage.errors import StorageUnavailable
    from shared.storage.idempotency import AlreadyInProgress

    waits: tuple[type[BaseException], ...] = (*transient, StorageUnavailable)
    try:
        return await work
    except AlreadyInProgress as exc:
        defer_or_park(ports, m, str(exc), until_stale(exc))
    except waits as exc:
        defer_or_park(ports, m, f"{type(exc).__name__}: {exc}")
    return None


async def send_or_park(ports: Ports, m: Received, send: Awaitable[str]) -> str | None:
    """Run a notification/service-request send: a transient delivery failure (relay down, 4xx) waits and retries
    with back-off; one that can never succeed (bad template data, refused recipient, not configured) is parked."""
    from shared.notify import NotifyError
    from shared.notify.errors import DeliveryError
    from shared.storage.idempotency import AlreadyInProgress

    try:
        return await send
    except AlreadyInProgress as exc:
        defer_or_park(ports, m, str(exc), until_stale(exc))
        return None
    except DeliveryError as exc:
        if exc.retryable:
            defer_or_park(ports, m, f"delivery failed: {exc}")
            return None
        reason = f"not deliverable: {exc}"
    except NotifyError as exc:
        reason = f"cannot render: {exc}"
    park(ports, m, reason)
    return None


__all__ = ["Received", "defer_or_park", "park", "run_or_defer", "send_or_park", "until_stale"]
