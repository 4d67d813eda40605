"""Dead letters, idempotency and audit against a real Azurite."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from shared.messaging import Envelope
from shared.messaging.handling import parse_or_park
from shared.storage.audit import AuditEntry, AuditLog
from shared.storage.azure import AzureTables
from shared.storage.deadletters import DeadLetterStore, LetterNotWaiting, LetterStatus, Origin
from shared.storage.idempotency import AlreadyInProgress, IdempotencyStore

pytestmark = pytest.mark.integration


class Ping(BaseModel):
    n: int


def test_invalid_messages_are_parked_with_reason_and_replayable(storage_connection: str, unique_name: str) -> None:
    tables = AzureTables.from_connection_string(storage_connection)
    store = DeadLetterStore(tables)
    models = {"ping": Ping}
    assert parse_or_park(unique_name, b"not json", models, store) is None
    bad_kind = Envelope(kind="pong", idempotency_key="k1").model_dump_json()
    assert parse_or_park(unique_name, bad_kind, models, store) is None
    bad_payload = Envelope(kind="ping", idempotency_key="k2", payload={"n": "x"}).model_dump_json()
    assert parse_or_park(unique_name, bad_payload, models, store) is None
    good = Envelope(kind="ping", idempotency_key="k3", payload={"n": 3})
    parsed = parse_or_park(unique_name, good.model_dump_json(), models, store)
    assert parsed is not None and parsed[1] == Ping(n=3)

    letters = store.list(unique_name)
    reasons = sorted(d.reason for d in letters)
    assert len(letters) == 3
    assert any("not JSON" in r for r in reasons)
    assert any("unknown kind 'pong'" in r for r in reasons)
    assert any("payload.n" in r or "n:" in r for r in reasons if "invalid ping" in r)

    target = next(d for d in letters if "invalid ping" in d.reason)
    assert target.body == bad_payload and target.kind == "ping" and target.idempotency_key == "k2"
    done = store.settle(unique_name, target.id, {"status": LetterStatus.REPLAYED, "replay_body": "fixed"})
    assert store.get(unique_name, target.id) == done and done.body == bad_payload  # the original is kept
    with pytest.raises(LetterNotWaiting):  # once
        store.settle(unique_name, target.id, {"status": LetterStatus.DISCARDED})
    assert target.id not in {d.id for d in store.list(unique_name)}


def test_a_message_over_32k_characters_is_kept_whole(storage_connection: str, unique_name: str) -> None:
    """A table string stops at 32K characters (PropertyValueTooLarge): bodies are kept as compressed chunks."""
    import random
    import string

    store = DeadLetterStore(AzureTables.from_connection_string(storage_connection))
    rng = random.Random(4)
    body = "".join(rng.choice(string.printable + "客户") for _ in range(63_000))  # hardly compressible
    kept = store.put(unique_name, body, "not JSON")
    assert store.get(unique_name, kept.id).body == body  # type: ignore[union-attr]


def test_a_poison_message_is_kept_once_by_its_id(storage_connection: str, unique_name: str) -> None:
    store = DeadLetterStore(AzureTables.from_connection_string(storage_connection))
    cid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    plain = json.dumps({"kind": "payment.received", "payload": {"customer_id": cid.upper()}})  # no base64
    first = store.put(unique_name, plain, "undecodable", origin=Origin.POISON, letter_id="poison-1")
    again = store.put(unique_name, "other", "undecodable", origin=Origin.POISON, letter_id="poison-1")
    assert again == first and first.customer_id == cid and first.kind == "payment.received"
    assert [d.id for d in store.waiting_for(cid.upper())] == ["poison-1"]
    junk = store.put(unique_name, base64.b64encode(b"\x00\xff garbage").decode(), "undecodable")
    assert junk.customer_id is None and junk.kind is None


def test_idempotency_runs_once_and_releases_on_failure(storage_connection: str, unique_name: str) -> None:
    store = IdempotencyStore(AzureTables.from_connection_string(storage_connection))
    calls: list[int] = []

    def work() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    assert store.run_once(unique_name, "a/b#1", work) == (True, {"n": 1})
    assert store.run_once(unique_name, "a/b#1", work) == (False, {"n": 1})
    assert len(calls) == 1

    def boom() -> None:
        raise RuntimeError("partner center down")

    with pytest.raises(RuntimeError):
        store.run_once(unique_name, "k2", boom)
    assert store.status(unique_name, "k2") is None  # claim released: a redelivery may retry
    assert store.run_once(unique_name, "k2", work)[0] is True


def test_in_progress_claim_blocks_then_expires(storage_connection: str, unique_name: str) -> None:
    tables = AzureTables.from_connection_string(storage_connection)
    holder = IdempotencyStore(tables)
    inner = IdempotencyStore(tables)
    with pytest.raises(AlreadyInProgress):
        holder.run_once(unique_name, "k", lambda: inner.run_once(unique_name, "k", lambda: 1))
    # an attempt that died leaves a stale claim: the next one takes it over, and the dead one can no longer
    # complete or release it (both are conditional on owning the claim's ETag)
    stale = IdempotencyStore(tables, in_progress_ttl=timedelta(seconds=-1))
    dead, _ = stale.claim(unique_name, "k4")
    assert dead is not None
    stale.note_plan(dead, {"recorded": ["s1"]})
    taker, _ = holder.claim(unique_name, "k4")
    assert taker is not None and taker.taken_over and taker.plan == {"recorded": ["s1"]}
    stale.complete(dead, "from the dead attempt")
    stale.release(dead)
    assert dead.lost and holder.status(unique_name, "k4") == "in_progress"
    holder.complete(taker, 7)
    assert holder.run_once(unique_name, "k4", lambda: 8) == (False, 7)
    # a live claim says how long until it would be stale, so a redelivery can wait instead of burning attempts
    live, _ = holder.claim(unique_name, "k5")
    with pytest.raises(AlreadyInProgress) as busy:
        holder.claim(unique_name, "k5")
    assert timedelta(seconds=60) < busy.value.retry_after <= timedelta(minutes=2)
    assert live is not None


def test_audit_history_is_newest_first(storage_connection: str, unique_name: str) -> None:
    log = AuditLog(AzureTables.from_connection_string(storage_connection))
    first = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    log.record(AuditEntry(customer_id=unique_name, action="notice.sent", actor="csp-guard:sweep", reason="stage 1",
                          at=first))
    log.record(AuditEntry(customer_id=unique_name, action="suspend", actor="operator:ops", reason="manual",
                          at=first + timedelta(days=7)))
    hist = log.history(unique_name)
    assert [e.action for e in hist] == ["suspend", "notice.sent"]
    assert hist[0].actor == "operator:ops"


class Doc(BaseModel):
    name: str
    items: list[int] = []


def test_documents_roundtrip_large_and_serialise_concurrent_updates(storage_connection: str,
                                                                    unique_name: str) -> None:
    from shared.storage.documents import ConcurrencyConflict, DocumentStore

    store = DocumentStore(AzureTables.from_connection_string(storage_connection), unique_name, Doc)
    big = Doc(name="客户/1#?", items=list(range(60_000)))  # > 64 KiB compressed: several chunks
    store.put("cust/1", "ledger", big)
    assert store.get("cust/1", "ledger") == big
    with pytest.raises(ConcurrencyConflict):
        store.put("cust/1", "ledger", big)  # insert over an existing document is refused

    found = store.get_with_etag("cust/1", "ledger")
    assert found is not None
    _, stale_etag = found
    store.update("cust/1", "ledger", lambda d: d.model_copy(update={"items": [1]}) if d else None)
    with pytest.raises(ConcurrencyConflict):
        store.put("cust/1", "ledger", Doc(name="lost update"), stale_etag)

    def append(d: Doc | None) -> Doc:
        base = d or Doc(name="x")
        return base.model_copy(update={"items": [*base.items, len(base.items)]})

    for _ in range(3):
        store.update("cust/1", "ledger", append)
    assert store.get("cust/1", "ledger").items == [1, 1, 2, 3]  # type: ignore[union-attr]
    assert list(store.partition_keys("ledger")) == ["cust/1"]


def test_a_new_client_at_a_reused_address_creates_its_tables(storage_connection: str, unique_name: str) -> None:
    """Fifteen stacks in one process: each new client (perhaps at an object id or an address a previous one had)
    must find or create its tables, never trust a cache entry of another client."""
    import gc

    for i in range(15):
        tables = AzureTables.from_connection_string(storage_connection)
        tables.table(unique_name).upsert({"PartitionKey": "p", "RowKey": str(i)})
        tables.service.delete_table(unique_name)  # the next stack's emulator starts empty
        del tables
        gc.collect()
