"""The messaging ports: a publisher every sender uses, and the poison queues the drain empties.

``QueueProducer`` / ``AzurePoisonQueues`` (Azure Queue storage) and ``MemoryQueues`` (``memory.py``) implement
them, so a use case that sends a notice or drains poison runs the same on Azurite and in the functional tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shared.messaging.envelope import Envelope


class Publisher(Protocol):
    def send(self, queue: str, envelope: Envelope, *, delay_seconds: int | None = None) -> str:
        """Enqueue one envelope (visible after ``delay_seconds``); returns the message id."""
        ...


@dataclass(frozen=True)
class PoisonMessage:
    id: str
    content: str  # the raw body as the host left it (base64 when host.json says so)
    receipt: str


class PoisonQueues(Protocol):
    def receive(self, poison_queue: str, limit: int) -> list[PoisonMessage]:
        """Up to ``limit`` messages of ``<queue>-poison``, hidden for a minute while they are moved (none when the
        queue does not exist: nothing ever failed there)."""
        ...

    def delete(self, poison_queue: str, message: PoisonMessage) -> None: ...


__all__ = ["PoisonMessage", "PoisonQueues", "Publisher"]
