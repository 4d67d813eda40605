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
    from shared.services.delivery import Received

T = TypeVar("T")
log = logging.getLogger("cspguard.functions.queue")


def receive(queue: str, msg: func.QueueMessage,
            models: Mapping[str, type[BaseModel]]) -> tuple[Envelope, BaseModel] | None:
    """(envelope, payload), or None when the message was parked in the dead-letter table."""
    from shared.context import get_context
    from shared.messaging.handling import parse_or_park

    return parse_or_park(queue, msg.get_body(), models, get_context().deadletters, msg.dequeue_count or 1)


def received(queue: str, msg: func.QueueMessage, envelope: Envelope) -> Received:
    """The message as the delivery rules (``shared.services.delivery``) see it."""
    from shared.services.delivery import Received

    return Received(str(queue), msg.get_body().decode("utf-8", "replace"), msg.dequeue_count or 1, envelope)


def defer_or_park(queue: str, msg: func.QueueMessage, envelope: Envelope, why: str,
                  delay_seconds: float | None = None) -> None:
    """``shared.services.delivery.defer_or_park`` on the app's ports."""
    from shared.context import get_context
    from shared.services import delivery

    delivery.defer_or_park(get_context(), received(queue, msg, envelope), why, delay_seconds)


async def run_or_defer(queue: str, msg: func.QueueMessage, envelope: Envelope, work: Awaitable[T],
                       transient: tuple[type[BaseException], ...] = ()) -> T | None:
    """Run ``work``; a live claim or a transient error defers the message (``shared.services.delivery``; storage
    adapters raise ``StorageUnavailable`` for an unreachable account, never the SDK's errors)."""
    from shared.context import get_context
    from shared.services import delivery

    return await delivery.run_or_defer(get_context(), received(queue, msg, envelope), work, transient)


async def send_or_park(queue: str, msg: func.QueueMessage, envelope: Envelope, send: Awaitable[str]) -> str | None:
    """Run a notification/service-request send: retried while the relay is down, parked when it never can be."""
    from shared.context import get_context
    from shared.services import delivery

    return await delivery.send_or_park(get_context(), received(queue, msg, envelope), send)
