"""Shared receive path of every queue trigger: validate or park, then run inside the message's correlation."""

from __future__ import annotations

from collections.abc import Mapping
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
