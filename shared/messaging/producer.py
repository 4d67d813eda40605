"""The only way csp-guard (and the sample code in the README) puts messages on a queue.

The Functions host decodes queue bodies as base64 (``messageEncoding``); the storage SDK sends plain
text unless told otherwise, which sends every message to poison. This producer always encodes the
way host.json says, checks the 64 KiB limit before sending, and creates missing queues.
"""

from __future__ import annotations

import base64
import contextlib
from typing import TYPE_CHECKING

from shared.messaging.envelope import Envelope
from shared.messaging.errors import MessagingError

if TYPE_CHECKING:
    from azure.storage.queue import QueueServiceClient

    from shared.messaging.ports import PoisonMessage

MAX_ENCODED_BYTES = 64 * 1024


class MessageTooLarge(MessagingError, ValueError):
    """The encoded message exceeds the queue service's 64 KiB limit."""


def encode_body(envelope: Envelope, encoding: str = "base64") -> str:
    """Serialise an envelope exactly as the Functions host expects to read it."""
    raw = envelope.model_dump_json().encode("utf-8")
    text = base64.b64encode(raw).decode("ascii") if encoding == "base64" else raw.decode("utf-8")
    if len(text.encode("utf-8")) > MAX_ENCODED_BYTES:
        raise MessageTooLarge(
            f"{envelope.kind} message is {len(text)} bytes encoded; the limit is {MAX_ENCODED_BYTES}"
        )
    return text


class QueueProducer:
    """Sends envelopes to named queues through one QueueServiceClient."""

    def __init__(self, service: QueueServiceClient, encoding: str = "base64") -> None:
        self._service = service
        self._encoding = encoding
        self._known: set[str] = set()

    @classmethod
    def from_connection_string(cls, conn: str, encoding: str = "base64") -> QueueProducer:
        from azure.storage.queue import QueueServiceClient

        return cls(QueueServiceClient.from_connection_string(conn), encoding)

    def send(self, queue: str, envelope: Envelope, *, delay_seconds: int | None = None) -> str:
        """Enqueue one envelope; returns the queue message id."""
        from shared.storage.azure import translated
        from shared.storage.errors import EntityExists

        body = encode_body(envelope, self._encoding)
        client = self._service.get_queue_client(str(queue))
        if queue not in self._known:
            with contextlib.suppress(EntityExists), translated(f"queue {queue}"):  # another sender created it first
                client.create_queue()
            self._known.add(str(queue))
        with translated(f"queue {queue}"):  # StorageUnavailable when the account cannot be reached
            sent = client.send_message(body, visibility_timeout=delay_seconds)
        return str(sent.id)


class AzurePoisonQueues:
    """``PoisonQueues`` over Azure Queue storage (Azure errors stay here)."""

    def __init__(self, service: QueueServiceClient) -> None:
        self._service = service

    def receive(self, poison_queue: str, limit: int) -> list[PoisonMessage]:
        from shared.messaging.ports import PoisonMessage
        from shared.storage.azure import translated
        from shared.storage.errors import EntityNotFound

        client = self._service.get_queue_client(poison_queue)
        try:
            with translated(poison_queue):
                messages = list(client.receive_messages(messages_per_page=32, max_messages=limit,
                                                        visibility_timeout=60))
        except EntityNotFound:  # nothing ever failed on this queue
            return []
        return [PoisonMessage(str(m.id), str(m.content or ""), str(m.pop_receipt)) for m in messages]

    def delete(self, poison_queue: str, message: PoisonMessage) -> None:
        from shared.storage.azure import translated

        with translated(poison_queue):
            self._service.get_queue_client(poison_queue).delete_message(message.id, message.receipt)
