"""Idempotency records for at-least-once queues, in the spirit of Powertools' idempotency utility.

A record is claimed with an insert-if-absent (the table's own uniqueness is the lock). States:
- IN_PROGRESS with an expiry: another attempt is running; if it crashed, the claim expires and a
  later redelivery takes it over (optimistic concurrency on the record's ETag);
- COMPLETED with the stored result: a duplicate returns that result and does nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from shared.storage.tables import safe_key, table

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient

TABLE = "idempotency"
T = TypeVar("T")


class RecordStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class AlreadyInProgress(RuntimeError):
    """Another attempt holds the claim; the caller should fail so the queue redelivers later."""


class IdempotencyStore:
    """Run a piece of work at most once per (scope, key), remembering its JSON result."""

    def __init__(self, tables: TableServiceClient, in_progress_ttl: timedelta = timedelta(minutes=10)) -> None:
        self._tables = tables
        self._ttl = in_progress_ttl

    def run_once(self, scope: str, key: str, work: Callable[[], T],
                 encode: Callable[[T], Any] = lambda r: r) -> tuple[bool, Any]:
        """Return (ran_now, result). A completed duplicate returns (False, stored result) without running."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

        client = table(self._tables, TABLE)
        pk, rk = safe_key(scope), safe_key(key)
        now = datetime.now(UTC)
        claim = {"PartitionKey": pk, "RowKey": rk, "Status": RecordStatus.IN_PROGRESS.value,
                 "ExpiresAt": (now + self._ttl).isoformat(), "Result": "", "Key": key}
        try:
            client.create_entity(claim)
        except ResourceExistsError:
            existing = client.get_entity(pk, rk)
            if existing["Status"] == RecordStatus.COMPLETED.value:
                return False, json.loads(existing["Result"]) if existing["Result"] else None
            if datetime.fromisoformat(existing["ExpiresAt"]) > now:
                raise AlreadyInProgress(f"{scope}/{key} is being processed by another attempt") from None
            try:  # the previous attempt died: take over its expired claim
                client.update_entity(claim, etag=existing.metadata["etag"],
                                     match_condition=MatchConditions.IfNotModified)
            except ResourceModifiedError:
                raise AlreadyInProgress(f"{scope}/{key} was taken over by another attempt") from None
        try:
            result = work()
        except BaseException:
            client.delete_entity(pk, rk)  # release the claim so a redelivery can try again
            raise
        encoded = encode(result)
        client.upsert_entity({**claim, "Status": RecordStatus.COMPLETED.value,
                              "Result": json.dumps(encoded, default=str, ensure_ascii=False),
                              "CompletedAt": datetime.now(UTC).isoformat()})
        return True, encoded

    def status(self, scope: str, key: str) -> RecordStatus | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return RecordStatus(table(self._tables, TABLE).get_entity(safe_key(scope), safe_key(key))["Status"])
        except ResourceNotFoundError:
            return None
