"""The messaging ports in memory: sent envelopes kept per queue, with when each becomes visible.

The functional tests deliver what a use case sent to the next use case (as the host would), so a whole flow
(payment -> decision -> enforcement -> notice) runs without Azurite; ``take`` hands out visible messages once.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.clock import utcnow
from shared.messaging.envelope import Envelope
from shared.messaging.ports import PoisonMessage
from shared.messaging.producer import encode_body

_ids = itertools.count(1)


@dataclass(frozen=True)
class Sent:
    queue: str
    envelope: Envelope
    visible_at: datetime
    id: str


class MemoryQueues:
    """A ``Publisher`` and ``PoisonQueues``: what was sent (``sent``), and poison messages a test puts there."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.poison: dict[str, list[PoisonMessage]] = {}
        self._lock = threading.Lock()

    def send(self, queue: str, envelope: Envelope, *, delay_seconds: int | None = None) -> str:
        encode_body(envelope)  # the same 64 KiB check the Azure producer makes
        sent = Sent(str(queue), envelope, utcnow() + timedelta(seconds=delay_seconds or 0), f"m{next(_ids)}")
        with self._lock:
            self.sent.append(sent)
        return sent.id

    def take(self, queue: str, *, include_delayed: bool = False) -> list[Envelope]:
        """Remove and return the messages of ``queue`` visible now (all of them with ``include_delayed``)."""
        now = utcnow()
        with self._lock:
            mine = [s for s in self.sent if s.queue == str(queue) and (include_delayed or s.visible_at <= now)]
            self.sent = [s for s in self.sent if s not in mine]
        return [s.envelope for s in mine]

    def kinds(self, queue: str) -> list[str]:
        """The kinds waiting on ``queue`` (not removed)."""
        with self._lock:
            return [s.envelope.kind for s in self.sent if s.queue == str(queue)]

    def put_poison(self, poison_queue: str, content: str) -> None:
        with self._lock:
            self.poison.setdefault(poison_queue, []).append(PoisonMessage(f"p{next(_ids)}", content, "r"))

    def receive(self, poison_queue: str, limit: int) -> list[PoisonMessage]:
        with self._lock:
            return list(self.poison.get(poison_queue, [])[:limit])

    def delete(self, poison_queue: str, message: PoisonMessage) -> None:
        with self._lock:
            self.poison[poison_queue] = [m for m in self.poison.get(poison_queue, []) if m.id != message.id]


__all__ = ["MemoryQueues", "Sent"]
