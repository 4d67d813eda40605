"""The in-memory adapters keep what the repositories rely on from Azure Tables (ETags, insert-if-absent,
conditional writes, key order), and the in-memory root satisfies the same ports as the Azure one: so the same
repository code runs on both (Azure's side is tests/integration/test_storage.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from shared.memory import MemoryContext
from shared.messaging import Envelope, Queue
from shared.settings import load_settings
from shared.storage.audit import AuditEntry
from shared.storage.documents import ConcurrencyConflict, DocumentStore
from shared.storage.errors import EntityExists, EntityNotFound, EtagMismatch, StorageError
from shared.storage.idempotency import AlreadyInProgress, IdempotencyStore
from shared.storage.memory import MemoryTables


class Doc(BaseModel):
    items: list[int] = []


def test_conditional_writes_insert_if_absent_and_merge() -> None:
    t = MemoryTables().table("t")
    etag = t.insert({"PartitionKey": "p", "RowKey": "r", "A": 1})
    with pytest.raises(EntityExists):
        t.insert({"PartitionKey": "p", "RowKey": "r"})
    newer = t.merge({"PartitionKey": "p", "RowKey": "r", "B": 2}, etag)
    assert t.get("p", "r") == ({"PartitionKey": "p", "RowKey": "r", "A": 1, "B": 2}, newer) and newer != etag
    with pytest.raises(EtagMismatch):
        t.replace({"PartitionKey": "p", "RowKey": "r"}, etag)
    with pytest.raises(EtagMismatch):
        t.delete("p", "r", etag)
    with pytest.raises(EntityNotFound):
        t.merge({"PartitionKey": "p", "RowKey": "absent", "A": 1})
    t.delete("p", "absent")  # like Azure: deleting what is not there is not an error
    assert issubclass(EtagMismatch, StorageError) and issubclass(ConcurrencyConflict, StorageError)


@given(st.lists(st.tuples(st.text("abc", min_size=1, max_size=3), st.text("xyz", min_size=1, max_size=3)),
                max_size=30, unique=True))
def test_rows_come_back_in_key_order_and_ranges_are_inclusive(keys: list[tuple[str, str]]) -> None:
    t = MemoryTables().table("t")
    for pk, rk in keys:
        t.upsert({"PartitionKey": pk, "RowKey": rk})
    assert [(r["PartitionKey"], r["RowKey"]) for r, _ in t.query()] == sorted(keys)
    assert [(r["PartitionKey"], r["RowKey"]) for r, _ in t.query(partitions=("a", "b"))] == sorted(
        k for k in keys if "a" <= k[0] <= "b")
    assert [r["RowKey"] for r, _ in t.query(row_prefix="x")] == [k[1] for k in sorted(keys) if k[1].startswith("x")]


def test_a_row_read_is_a_copy() -> None:
    t = MemoryTables().table("t")
    t.upsert({"PartitionKey": "p", "RowKey": "r", "L": b"x"})
    row, _ = t.get("p", "r") or ({}, "")
    row["L"] = b"changed"
    assert t.get("p", "r")[0]["L"] == b"x"  # type: ignore[index]


def test_documents_serialise_concurrent_writers_on_memory_too() -> None:
    store = DocumentStore(MemoryTables(), "docs", Doc)
    store.put("c", "d", Doc(items=[1]))
    _, etag = store.get_with_etag("c", "d") or (None, "")
    store.update("c", "d", lambda cur: Doc(items=[*(cur.items if cur else []), 2]))
    with pytest.raises(ConcurrencyConflict):
        store.put("c", "d", Doc(items=[9]), etag)  # the stale writer loses
    assert store.get("c", "d") == Doc(items=[1, 2])


def test_claims_on_memory_hold_take_over_and_complete_once() -> None:
    tables = MemoryTables()
    holder = IdempotencyStore(tables)
    claim, _ = holder.claim("s", "k")
    assert claim is not None
    with pytest.raises(AlreadyInProgress):
        IdempotencyStore(tables).claim("s", "k")
    stale, _ = IdempotencyStore(tables, in_progress_ttl=timedelta(seconds=-1)).claim("s", "k2")
    assert stale is not None
    taken, _ = IdempotencyStore(tables).claim("s", "k2")
    assert taken is not None and taken.taken_over
    holder.complete(claim, {"ok": 1})
    assert holder.claim("s", "k") == (None, {"ok": 1})


def test_the_memory_root_wires_every_port() -> None:
    ctx = MemoryContext(load_settings(AzureWebJobsStorage="UseDevelopmentStorage=true"))
    ctx.audit.record(AuditEntry(customer_id="c", action="suspend", actor="t", reason="why"))
    assert [e.action for e in ctx.audit.history("c")] == ["suspend"]
    ctx.producer.send(Queue.NOTIFICATIONS, Envelope(kind="collections.notice", idempotency_key="k", payload={}),
                      delay_seconds=60)
    assert ctx.queues.take(Queue.NOTIFICATIONS) == [] and ctx.queues.kinds(Queue.NOTIFICATIONS) == [
        "collections.notice"]
    letter = ctx.deadletters.put("payment-events", "not json", "test")
    assert [d.id for d in ctx.deadletters.list("payment-events")] == [letter.id]
    assert ctx.queues.kinds(Queue.NOTIFICATIONS)[-1] == "collections.notice"  # the team hears of a nameless letter
    with pytest.raises(RuntimeError):
        ctx.partner_center()
