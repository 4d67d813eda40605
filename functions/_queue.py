"""Shared receive path of every queue trigger: validate or park, then run inside the message's correlation."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING

import azure.functions as func

if TYPE_CHECKING:
    from pydantic import BaseModel

    from shared.messaging import Envelope


def receive(queue: str, msg: func.QueueMessage,
            models: Mapping[str, type[BaseModel]]) -> tuple[Envelope, BaseModel] | None:
    """(envelope, payload), or None when the message was parked in the dead-letter table."""
    from shared.context import get_context
    from shared.messaging.handling import parse_or_park

    return parse_or_park(queue, msg.get_body(), models, get_context().deadletters, msg.dequeue_count or 1)


async def send_or_park(queue: str, msg: func.QueueMessage, send: Awaitable[str]) -> str | None:
    """Run a notification/service-request send: a transient delivery failure raises (the host retries);
    one that can never succeed (bad template data, refused recipient, not configured) is parked with its reason."""
    from shared.context import get_context
    from shared.notify import NotifyError
    from shared.notify.errors import DeliveryError

    try:
        return await send
    except DeliveryError as exc:
        if exc.retryable:
            raise
        reason = f"not deliverable: {exc}"
    except NotifyError as exc:
        reason = f"cannot render: {exc}"
    get_context().deadletters.put(queue, msg.get_body().decode("utf-8", "replace"), reason, msg.dequeue_count or 1)
    return None
