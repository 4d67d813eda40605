"""Idempotency records for at-least-once queues, in the spirit of Powertools' idempotency utility.

A record is claimed with an insert-if-absent (the table's own uniqueness is the lock). States:
- IN_PROGRESS with an expiry: another attempt is running; if it crashed, the claim expires and a
  later redelivery takes it over (optimistic concurrency on the record's ETag);
- COMPLETED with the stored result: a duplicate returns that result and does nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from shared.clock import utcnow
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

    def __init__(self, tables: TableServiceClient, in_progress_ttl: timedelta = timedelta(minutes=11)) -> None:
        self._tables = tables
        self._ttl = in_progress_ttl

    def run_once(self, scope: str, key: str, work: Callable[[], T],
                 encode: Callable[[T], Any] = lambda r: r) -> tuple[bool, Any]:
        """Return (ran_now, result). A completed duplicate returns (False, stored result) without running."""
        done, stored = self.claim(scope, key)
        if done:
            return False, stored
        try:
            result = work()
        except BaseException:
            self.release(scope, key)
            raise
        return True, self.complete(scope, key, encode(result))

    async def run_once_async(self, scope: str, key: str, work: Callable[[], Awaitable[T]],
                             encode: Callable[[T], Any] = lambda r: r,
                             keep: Callable[[Any], bool] = lambda r: True) -> tuple[bool, Any]:
        """``run_once`` for coroutines (the Partner Center client is async); storage calls run in a thread so
        they never block the event loop other invocations share."""
        done, stored = await asyncio.to_thread(self.claim, scope, key)
        if done:
            return False, stored
        try:
            result = await work()
        except BaseException:
            await asyncio.to_thread(self.release, scope, key)
            raise
        encoded = encode(result)
        if not keep(encoded):  # an outcome worth retrying later: do not remember it as done
            await asyncio.to_thread(self.release, scope, key)
            return True, encoded
        return True, await asyncio.to_thread(self.complete, scope, key, encoded)

    def claim(self, scope: str, key: str) -> tuple[bool, Any]:
        """Claim (scope, key). Returns (True, result) if it was already completed, (False, None) if claimed."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

        client = table(self._tables, TABLE)
        now = utcnow()
        claim = self._claim_entity(scope, key, now)
        try:
            client.create_entity(claim)
        except ResourceExistsError:
            existing = client.get_entity(claim["PartitionKey"], claim["RowKey"])
            if existing["Status"] == RecordStatus.COMPLETED.value:
                return True, json.loads(existing["Result"]) if existing["Result"] else None
            if datetime.fromisoformat(existing["ExpiresAt"]) > now:
                raise AlreadyInProgress(f"{scope}/{key} is being processed by another attempt") from None
            try:  # the previous attempt died: take over its expired claim
                client.update_entity(claim, etag=existing.metadata["etag"],
                                     match_condition=MatchConditions.IfNotModified)
            except ResourceModifiedError:
                raise AlreadyInProgress(f"{scope}/{key} was taken over by another attempt") from None
        return False, None

    def complete(self, scope: str, key: str, result: Any) -> Any:
        entity = self._claim_entity(scope, key, utcnow())
        table(self._tables, TABLE).upsert_entity({
            **entity, "Status": RecordStatus.COMPLETED.value,
            "Result": json.dumps(result, default=str, ensure_ascii=False),
            "CompletedAt": utcnow().isoformat()})
        return result

    def release(self, scope: str, key: str) -> None:
        """Give the claim up so a redelivery can try again."""
        table(self._tables, TABLE).delete_entity(safe_key(scope), safe_key(key))

    def _claim_entity(self, scope: str, key: str, now: datetime) -> dict[str, Any]:
        return {"PartitionKey": safe_key(scope), "RowKey": safe_key(key), "Status": RecordStatus.IN_PROGRESS.value,
                "ExpiresAt": (now + self._ttl).isoformat(), "Result": "", "Key": key}

    def status(self, scope: str, key: str) -> RecordStatus | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return RecordStatus(table(self._tables, TABLE).get_entity(safe_key(scope), safe_key(key))["Status"])
        except ResourceNotFoundError:
            return None
