"""Idempotency records for at-least-once queues, in the spirit of Powertools' idempotency utility.

A record is claimed with an insert-if-absent (the table's own uniqueness is the lock). States:
- IN_PROGRESS with an expiry: an attempt is running and renews its claim (heartbeat) while it works;
- COMPLETED with the stored result: a duplicate returns that result and does nothing.

Timing, consistent with host.json and the host: a running message stays hidden for 10 minutes (renewed while
the function runs) and reappears only when its worker died. The claim lives ``CLAIM_TTL`` (2 minutes) and is
renewed every ``CLAIM_TTL / 4``, so a live attempt never loses it while a dead one's claim is stale long before
its message reappears: the redelivery takes the claim over (ETag) and finishes the work. Complete and release
are conditional on still owning the claim (its ETag), so an attempt that was taken over can never overwrite the
record of the one that took over. A claim found in progress raises ``AlreadyInProgress`` with how long until it
goes stale, so the caller can defer the message instead of burning the host's attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from shared.clock import utcnow
from shared.storage.errors import EntityExists, EntityNotFound, EtagMismatch, StorageError
from shared.storage.tables import safe_key

if TYPE_CHECKING:
    from shared.storage.ports import Table, Tables

TABLE = "idempotency"
CLAIM_TTL = timedelta(minutes=2)  # < the 10 minutes a crashed attempt's message stays hidden (host / runner)
T = TypeVar("T")
log = logging.getLogger("cspguard.idempotency")


class RecordStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class AlreadyInProgress(StorageError, RuntimeError):
    """Another live attempt holds the claim; ``retry_after`` is how long until it would be stale."""

    def __init__(self, message: str, retry_after: timedelta = CLAIM_TTL) -> None:
        super().__init__(message)
        self.retry_after = max(retry_after, timedelta(seconds=1))


@dataclass
class Claim:
    """This attempt's hold on (scope, key). ``taken_over``: a previous attempt died holding it, so part of the work
    may already be done (the caller reconciles); ``etag`` follows every renewal."""

    scope: str
    key: str
    etag: str
    owner: str
    taken_over: bool = False
    previous_owner: str | None = None
    plan: dict[str, Any] | None = None  # what the first attempt noted before working (kept across takeovers)
    lost: bool = field(default=False)


class IdempotencyStore:
    """Run a piece of work at most once per (scope, key), remembering its JSON result."""

    def __init__(self, tables: Tables, in_progress_ttl: timedelta = CLAIM_TTL) -> None:
        self._tables = tables
        self._ttl = in_progress_ttl

    @property
    def _table(self) -> Table:
        return self._tables.table(TABLE)

    # ------------------------------------------------------------------ run helpers

    def run_once(self, scope: str, key: str, work: Callable[[], T],
                 encode: Callable[[T], Any] = lambda r: r) -> tuple[bool, Any]:
        """Return (ran_now, result). A completed duplicate returns (False, stored result) without running."""
        claim, stored = self.claim(scope, key)
        if claim is None:
            return False, stored
        try:
            result = work()
        except BaseException:
            self.release(claim)
            raise
        return True, self.complete(claim, encode(result))

    async def run_once_async(self, scope: str, key: str, work: Callable[[], Awaitable[T]],
                             encode: Callable[[T], Any] = lambda r: r,
                             keep: Callable[[Any], bool] = lambda r: True) -> tuple[bool, Any]:
        """``run_once`` for coroutines (storage calls run in threads, off the shared event loop)."""
        ran, result, _ = await self.attempt_async(scope, key, lambda _claim: work(), encode, keep)
        return ran, result

    async def attempt_async(self, scope: str, key: str, work: Callable[[Claim], Awaitable[T]],
                            encode: Callable[[T], Any] = lambda r: r,
                            keep: Callable[[Any], bool] = lambda r: True) -> tuple[bool, Any, Claim | None]:
        """Like ``run_once_async``, but ``work`` receives the claim (was it taken over?) and the claim is returned.
        The claim is renewed while ``work`` runs; a result ``keep`` rejects is released to be tried again."""
        claim, stored = await asyncio.to_thread(self.claim, scope, key)
        if claim is None:
            return False, stored, None
        heartbeat = asyncio.create_task(self._keep_alive(claim))
        try:
            result = await work(claim)
        except BaseException:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            await asyncio.to_thread(self._release_quietly, claim)
            raise
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)
        encoded = encode(result)
        if not keep(encoded):  # an outcome worth retrying later: do not remember it as done
            await asyncio.to_thread(self._release_quietly, claim)
            return True, encoded, claim
        return True, await asyncio.to_thread(self.complete, claim, encoded), claim

    async def _keep_alive(self, claim: Claim) -> None:
        while not claim.lost:
            await asyncio.sleep(self._ttl.total_seconds() / 4)
            try:
                await asyncio.to_thread(self.renew, claim)
            except Exception as exc:  # storage hiccup: try again next beat; the claim has slack left
                log.warning("could not renew claim %s/%s: %s", claim.scope, claim.key, exc)

    # ------------------------------------------------------------------ claim lifecycle

    def claim(self, scope: str, key: str) -> tuple[Claim | None, Any]:
        """(Claim, None) when this attempt now holds the key; (None, stored result) when it was completed before.
        Raises AlreadyInProgress when a live attempt holds it."""
        client = self._table
        now = utcnow()
        owner = uuid.uuid4().hex
        entity = self._claim_entity(scope, key, now, owner)
        try:
            return Claim(scope, key, client.insert(entity), owner), None
        except EntityExists:
            pass
        found = client.get(entity["PartitionKey"], entity["RowKey"])
        if found is None:  # released between our insert and read: claim it afresh
            return self.claim(scope, key)
        existing, existing_etag = found
        if existing["Status"] == RecordStatus.COMPLETED.value:
            return None, json.loads(existing["Result"]) if existing["Result"] else None
        expires = datetime.fromisoformat(existing["ExpiresAt"])
        if expires > now:
            raise AlreadyInProgress(f"{scope}/{key} is being processed by another attempt", expires - now)
        entity["Plan"] = existing.get("Plan", "")  # the first attempt's notes survive the takeover
        try:  # the previous attempt died: take over its stale claim
            updated = client.replace(entity, existing_etag)
        except (EtagMismatch, EntityNotFound):
            raise AlreadyInProgress(f"{scope}/{key} was taken over by another attempt", self._ttl) from None
        log.warning("took over the stale claim on %s/%s (the previous attempt died)", scope, key)
        return Claim(scope, key, updated, owner, taken_over=True, previous_owner=existing.get("Owner") or None,
                     plan=json.loads(existing["Plan"]) if existing.get("Plan") else None), None

    def note_plan(self, claim: Claim, plan: dict[str, Any]) -> None:
        """Store what this attempt is about to do, so an attempt taking the claim over can tell what was done."""
        claim.etag = self._table.merge({"PartitionKey": safe_key(claim.scope), "RowKey": safe_key(claim.key),
                                        "Plan": json.dumps(plan, default=str, ensure_ascii=False)}, claim.etag)
        claim.plan = plan

    def renew(self, claim: Claim) -> None:
        """Push the claim's expiry forward; marks it lost if another attempt took it over."""
        entity = {"PartitionKey": safe_key(claim.scope), "RowKey": safe_key(claim.key),
                  "ExpiresAt": (utcnow() + self._ttl).isoformat()}
        try:
            updated = self._table.merge(entity, claim.etag)
        except (EtagMismatch, EntityNotFound):
            claim.lost = True
            log.error("lost the claim on %s/%s to another attempt", claim.scope, claim.key)
            return
        claim.etag = updated

    def complete(self, claim: Claim, result: Any) -> Any:
        """Record the result, only if this attempt still owns the claim (else the owner records its own)."""
        entity = {**self._claim_entity(claim.scope, claim.key, utcnow(), claim.owner),
                  "Status": RecordStatus.COMPLETED.value,
                  "Result": json.dumps(result, default=str, ensure_ascii=False), "CompletedAt": utcnow().isoformat()}
        try:
            self._table.replace(entity, claim.etag)
        except (EtagMismatch, EntityNotFound):
            claim.lost = True
            log.error("claim on %s/%s was taken over before completion; the new owner records the outcome",
                      claim.scope, claim.key)
        return result

    def release(self, claim: Claim) -> None:
        """Give the claim up so a redelivery can try again (only if still ours)."""
        with contextlib.suppress(EtagMismatch, EntityNotFound):
            self._table.delete(safe_key(claim.scope), safe_key(claim.key), claim.etag)

    def _release_quietly(self, claim: Claim) -> None:
        try:
            self.release(claim)
        except Exception as exc:  # storage down: the claim goes stale within CLAIM_TTL and is taken over
            log.warning("could not release claim %s/%s (it expires within %s): %s", claim.scope, claim.key,
                        self._ttl, exc)

    def _claim_entity(self, scope: str, key: str, now: datetime, owner: str) -> dict[str, Any]:
        return {"PartitionKey": safe_key(scope), "RowKey": safe_key(key), "Status": RecordStatus.IN_PROGRESS.value,
                "ExpiresAt": (now + self._ttl).isoformat(), "Result": "", "Key": key, "Owner": owner}

    def mark_followed_up(self, scope: str, key: str) -> None:
        """Note on a completed record that its follow-ups (audit, notices) were done too."""
        self._table.merge({"PartitionKey": safe_key(scope), "RowKey": safe_key(key), "FollowedUp": True})

    def followed_up(self, scope: str, key: str) -> bool:
        """Whether a completed record's follow-ups were done (records from before this flag count as done)."""
        found = self._table.get(safe_key(scope), safe_key(key))
        if found is None:
            return True
        entity = found[0]
        return bool(entity.get("FollowedUp", "CompletedAt" in entity and "Owner" not in entity))

    def status(self, scope: str, key: str) -> RecordStatus | None:
        found = self._table.get(safe_key(scope), safe_key(key))
        return RecordStatus(found[0]["Status"]) if found else None
