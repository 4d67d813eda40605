"""Messages that failed validation: kept with their reason where an operator can list and replay them.

A malformed message is not retried by the host (retrying cannot fix it) and not lost: the handler
stores it here and completes. Replay re-sends the original body to its queue through the producer.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.clock import utcnow
from shared.storage.tables import safe_key, table

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient
    from azure.storage.queue import QueueServiceClient

TABLE = "deadletters"


class DeadLetter(BaseModel):
    """One rejected message, as an operator sees it."""

    queue: str
    id: str
    reason: str
    body: str
    received_at: datetime
    dequeue_count: int = 1
    replayed_at: datetime | None = None


class DeadLetterStore:
    """Dead letters in Azure Table storage, partitioned by queue."""

    def __init__(self, tables: TableServiceClient) -> None:
        self._tables = tables

    def put(self, queue: str, body: str, reason: str, dequeue_count: int = 1) -> DeadLetter:
        now = utcnow()
        letter = DeadLetter(queue=queue, id=f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}", reason=reason,
                            body=body, received_at=now, dequeue_count=dequeue_count)
        table(self._tables, TABLE).create_entity(self._entity(letter))
        return letter

    def list(self, queue: str | None = None, include_replayed: bool = False) -> list[DeadLetter]:
        client = table(self._tables, TABLE)
        rows = (client.query_entities("PartitionKey eq @q", parameters={"q": safe_key(queue)})
                if queue else client.list_entities())
        letters = [self._letter(r) for r in rows]
        return [d for d in letters if include_replayed or d.replayed_at is None]

    def get(self, queue: str, letter_id: str) -> DeadLetter | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._letter(table(self._tables, TABLE).get_entity(safe_key(queue), safe_key(letter_id)))
        except ResourceNotFoundError:
            return None

    def replay(self, queue: str, letter_id: str, queues: QueueServiceClient, body: str | None = None) -> DeadLetter:
        """Re-send the stored (or an operator-corrected) body to its queue, base64 as the host expects."""
        import base64

        from shared.messaging.producer import MAX_ENCODED_BYTES

        letter = self.get(queue, letter_id)
        if letter is None:
            raise KeyError(f"no dead letter {letter_id} for queue {queue}")
        text = body if body is not None else letter.body
        encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
        if len(encoded) > MAX_ENCODED_BYTES:
            raise ValueError("replayed body exceeds the 64 KiB queue limit")
        queues.get_queue_client(queue).send_message(encoded)
        letter = letter.model_copy(update={"replayed_at": utcnow(), "body": text})
        table(self._tables, TABLE).upsert_entity(self._entity(letter))
        return letter

    @staticmethod
    def _entity(d: DeadLetter) -> dict[str, Any]:
        return {"PartitionKey": safe_key(d.queue), "RowKey": safe_key(d.id), "Queue": d.queue, "Reason": d.reason,
                "Body": d.body, "ReceivedAt": d.received_at.isoformat(), "DequeueCount": d.dequeue_count,
                "ReplayedAt": d.replayed_at.isoformat() if d.replayed_at else ""}

    @staticmethod
    def _letter(e: Any) -> DeadLetter:
        return DeadLetter(queue=e["Queue"], id=e["RowKey"], reason=e["Reason"], body=e["Body"],
                          received_at=datetime.fromisoformat(e["ReceivedAt"]),
                          dequeue_count=int(e.get("DequeueCount", 1)),
                          replayed_at=datetime.fromisoformat(e["ReplayedAt"]) if e.get("ReplayedAt") else None)
