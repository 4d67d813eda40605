"""Messages the app could not process, kept whole with their reason until an operator replays or discards them.

Two ways in: a handler parks a message that can never succeed (invalid envelope, unknown kind, bad payload,
undeliverable notice), and the poison drain (``shared.services.deadletters``) moves what the Functions host put
on ``<queue>-poison`` (undecodable base64, maxDequeueCount exceeded). Bodies are stored zlib-compressed in binary
chunks, like documents, so a queue message of any size the service accepts (64 KiB) is kept whole; a table
string property would stop at 32K characters (PropertyValueTooLarge). A letter changes state once
(waiting -> replayed | discarded) under an ETag check, so two operators cannot both replay it.
"""

from __future__ import annotations

import builtins
import uuid
import zlib
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.clock import utcnow
from shared.messaging.inspect import names_in
from shared.storage.errors import EntityExists, EntityNotFound, EtagMismatch, StorageError
from shared.storage.tables import safe_key

if TYPE_CHECKING:
    from shared.storage.ports import Table, Tables

TABLE = "deadletters"
_CHUNK = 63 * 1024
_MAX_CHUNKS = 15


class LetterStatus(StrEnum):
    WAITING = "waiting"  # blocks harmful actions for the customer it names
    REPLAYED = "replayed"
    DISCARDED = "discarded"


class Origin(StrEnum):
    HANDLER = "handler"  # parked by the function that received it
    POISON = "poison"  # moved by the Functions host to <queue>-poison, drained here


class DeadLetter(BaseModel):
    """One message that could not be processed, as an operator sees it."""

    queue: str
    id: str
    reason: str
    body: str  # the message text exactly as received (never overwritten)
    received_at: datetime
    dequeue_count: int = 1
    origin: Origin = Origin.HANDLER
    kind: str | None = None  # read leniently from the body (None: unreadable)
    customer_id: str | None = None  # the customer it names (None: it names none that can be read)
    idempotency_key: str | None = None
    status: LetterStatus = LetterStatus.WAITING
    replayed_at: datetime | None = None
    replayed_by: str | None = None
    replay_body: str | None = None  # what was replayed, if an operator corrected it
    discarded_at: datetime | None = None
    discarded_by: str | None = None
    discard_reason: str | None = None

    @property
    def waiting(self) -> bool:
        return self.status is LetterStatus.WAITING


class LetterNotWaiting(StorageError, RuntimeError):
    """The letter was already replayed or discarded (by this or another operator)."""


class DeadLetterStore:
    """Dead letters in table storage, partitioned by queue."""

    def __init__(self, tables: Tables, on_kept: Callable[[DeadLetter], None] | None = None) -> None:
        self._tables = tables
        self._on_kept = on_kept  # called once per newly kept letter (the app alerts the team when it names nobody)

    @property
    def _table(self) -> Table:
        return self._tables.table(TABLE)

    def put(self, queue: str, body: str, reason: str, dequeue_count: int = 1, *,
            origin: Origin = Origin.HANDLER, letter_id: str | None = None) -> DeadLetter:
        """Keep a message. With ``letter_id`` (a poison message id) a second put of the same message is a no-op."""
        now = utcnow()
        named = names_in(body)
        letter = DeadLetter(queue=queue, id=letter_id or f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}",
                            reason=reason[:4000], body=body, received_at=now, dequeue_count=dequeue_count,
                            origin=origin, kind=named.kind, customer_id=named.customer_id,
                            idempotency_key=named.idempotency_key)
        try:
            self._table.insert(self._entity(letter))
        except EntityExists:
            if letter_id is None:
                raise
            existing = self.get(queue, letter_id)
            assert existing is not None
            return existing
        if self._on_kept is not None:
            self._on_kept(letter)
        return letter

    def list(self, queue: str | None = None, include_replayed: bool = False,
             status: LetterStatus | None = None) -> list[DeadLetter]:
        """Letters of one queue (or all), oldest first; by default only those still waiting."""
        rows = self._table.query(partition=safe_key(queue) if queue else None)
        letters = [self._letter(r) for r, _ in rows]
        if status is not None:
            return [d for d in letters if d.status is status]
        return [d for d in letters if include_replayed or d.waiting]

    def waiting_for(self, customer_id: str) -> builtins.list[DeadLetter]:
        """Letters still waiting that name this customer (any queue)."""
        rows = self._table.query(where={"CustomerId": customer_id.strip().lower(),
                                        "Status": LetterStatus.WAITING.value})
        return [self._letter(r) for r, _ in rows]

    def get(self, queue: str, letter_id: str) -> DeadLetter | None:
        found = self._get_with_etag(queue, letter_id)
        return found[0] if found else None

    def settle(self, queue: str, letter_id: str, change: dict[str, Any]) -> DeadLetter:
        """Move a waiting letter to replayed/discarded exactly once (ETag), keeping its original body."""
        found = self._get_with_etag(queue, letter_id)
        if found is None:
            raise EntityNotFound(f"no dead letter {letter_id} for queue {queue}")
        letter, etag = found
        if not letter.waiting:
            raise LetterNotWaiting(f"dead letter {letter_id} was already {letter.status.value}")
        updated = letter.model_copy(update=change)
        try:
            self._table.replace(self._entity(updated), etag)
        except (EtagMismatch, EntityNotFound):
            raise LetterNotWaiting(f"dead letter {letter_id} was changed by another request") from None
        return updated

    def reopen(self, letter: DeadLetter) -> None:
        """Undo a settle whose follow-up (the re-send) failed, so the letter keeps blocking and can be retried."""
        self._table.upsert(self._entity(letter.model_copy(update={
            "status": LetterStatus.WAITING, "replayed_at": None, "replayed_by": None, "replay_body": None})))

    def _get_with_etag(self, queue: str, letter_id: str) -> tuple[DeadLetter, str] | None:
        found = self._table.get(safe_key(queue), safe_key(letter_id))
        return (self._letter(found[0]), found[1]) if found else None

    @staticmethod
    def _entity(d: DeadLetter) -> dict[str, Any]:
        meta = d.model_dump(mode="json", exclude={"body", "replay_body"})
        entity: dict[str, Any] = {"PartitionKey": safe_key(d.queue), "RowKey": safe_key(d.id),
                                  "Queue": d.queue, "Reason": d.reason[:8000], "Status": d.status.value,
                                  "CustomerId": d.customer_id or "", "Meta": _json(meta)}
        entity.update(_chunks("B", d.body))
        if d.replay_body is not None:
            entity.update(_chunks("R", d.replay_body))
        return entity

    @staticmethod
    def _letter(e: Any) -> DeadLetter:
        if "Meta" not in e:  # a row written before bodies were chunked
            return DeadLetter(queue=e["Queue"], id=e["RowKey"], reason=e["Reason"], body=e.get("Body", ""),
                              received_at=datetime.fromisoformat(e["ReceivedAt"]),
                              dequeue_count=int(e.get("DequeueCount", 1)), **_legacy_names(e.get("Body", "")),
                              status=LetterStatus.REPLAYED if e.get("ReplayedAt") else LetterStatus.WAITING,
                              replayed_at=datetime.fromisoformat(e["ReplayedAt"]) if e.get("ReplayedAt") else None)
        import json

        meta = json.loads(e["Meta"])
        return DeadLetter.model_validate({**meta, "body": _unchunk("B", e),
                                          "replay_body": _unchunk("R", e) if "RChunks" in e else None})


def _legacy_names(body: str) -> dict[str, Any]:
    named = names_in(body)
    return {"kind": named.kind, "customer_id": named.customer_id, "idempotency_key": named.idempotency_key}


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _chunks(prefix: str, text: str) -> dict[str, Any]:
    packed = zlib.compress(text.encode("utf-8", "surrogatepass"), 6)
    parts = [packed[i:i + _CHUNK] for i in range(0, len(packed), _CHUNK)] or [b""]
    if len(parts) > _MAX_CHUNKS:  # cannot happen for a queue message (64 KiB at most), kept as a clear error
        raise ValueError(f"message body is {len(packed)} bytes compressed; at most {_CHUNK * _MAX_CHUNKS} kept")
    return {f"{prefix}Chunks": len(parts), **{f"{prefix}{i}": p for i, p in enumerate(parts)}}


def _unchunk(prefix: str, e: Any) -> str:
    data = b"".join(bytes(e[f"{prefix}{i}"]) for i in range(int(e[f"{prefix}Chunks"])))
    return zlib.decompress(data).decode("utf-8", "surrogatepass")
