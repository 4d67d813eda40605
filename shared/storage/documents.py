"""Pydantic documents in Azure Table storage with optimistic concurrency.

One entity per document (ledger, overrides, case...). The JSON is zlib-compressed and split across
binary properties (64 KiB each, up to the 1 MiB entity limit). ``update`` re-reads and retries on an
ETag conflict, which serialises concurrent writers per document (a payment and a sweep racing on the
same customer cannot overwrite each other).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from shared.domain.ingress import STORED
from shared.storage.errors import EntityExists, EntityNotFound, EtagMismatch, StorageError
from shared.storage.tables import safe_key

if TYPE_CHECKING:
    from shared.storage.ports import Table, Tables

M = TypeVar("M", bound=BaseModel)
_CHUNK = 63 * 1024
_MAX_CHUNKS = 15


class DocumentTooLarge(StorageError, ValueError):
    """The compressed document exceeds what one table entity can hold."""


class ConcurrencyConflict(StorageError, RuntimeError):
    """The document kept changing under us; the caller's message will be retried."""


class DocumentStore(Generic[M]):
    """Typed documents keyed by (partition, row)."""

    def __init__(self, tables: Tables, table_name: str, model: type[M]) -> None:
        self._tables = tables
        self._name = table_name
        self._model = model

    @property
    def _client(self) -> Table:
        return self._tables.table(self._name)

    def get(self, pk: str, rk: str) -> M | None:
        found = self.get_with_etag(pk, rk)
        return found[0] if found else None

    def get_with_etag(self, pk: str, rk: str) -> tuple[M, str] | None:
        found = self._client.get(safe_key(pk), safe_key(rk))
        return (self._decode(found[0]), found[1]) if found else None

    def put(self, pk: str, rk: str, doc: M, etag: str | None = None, *, extra: dict[str, Any] | None = None) -> None:
        """Insert when ``etag`` is None (fails if present), else replace only if unchanged."""
        entity = self._encode(pk, rk, doc, extra or {})
        try:
            if etag is None:
                self._client.insert(entity)
            else:
                self._client.replace(entity, etag)
        except (EntityExists, EtagMismatch, EntityNotFound) as exc:
            raise ConcurrencyConflict(f"{self._name}/{pk}/{rk} changed concurrently") from exc

    def upsert(self, pk: str, rk: str, doc: M, *, extra: dict[str, Any] | None = None) -> None:
        self._client.upsert(self._encode(pk, rk, doc, extra or {}))

    def update(self, pk: str, rk: str, change: Callable[[M | None], M | None], attempts: int = 8,
               extra: Callable[[M], dict[str, Any]] | None = None) -> M | None:
        """Read-modify-write with ETag checks; ``change`` must be pure (it may run more than once).

        Returning None from ``change`` leaves the document as it is.
        """
        for _ in range(attempts):
            found = self.get_with_etag(pk, rk)
            current, etag = (found if found else (None, None))
            new = change(current)
            if new is None or new == current:
                return current
            try:
                self.put(pk, rk, new, etag, extra=extra(new) if extra else None)
                return new
            except ConcurrencyConflict:
                continue
        raise ConcurrencyConflict(f"{self._name}/{pk}/{rk}: gave up after {attempts} conflicting writes")

    def delete(self, pk: str, rk: str) -> None:
        self._client.delete(safe_key(pk), safe_key(rk))

    def query(self) -> Iterator[M]:
        """Every document of the table."""
        for entity, _ in self._client.query():
            yield self._decode(entity)

    def range_with_etags(self, first_pk: str, last_pk: str, rk: str | None = None) -> Iterator[tuple[str, M, str]]:
        """(key, document, etag) for partitions first_pk..last_pk (one query instead of one read per key)."""
        rows = self._client.query(partitions=(safe_key(first_pk), safe_key(last_pk)),
                                  row=safe_key(rk) if rk is not None else None)
        for entity, etag in rows:
            yield entity.get("Key") or entity["PartitionKey"], self._decode(entity), etag

    def partition(self, pk: str, row_prefix: str | None = None) -> Iterator[M]:
        """Documents of one partition (only the rows whose key starts with ``row_prefix``, when given)."""
        for entity, _ in self._client.query(partition=safe_key(pk), row_prefix=row_prefix):
            yield self._decode(entity)

    def with_row(self, rk: str) -> Iterator[M]:
        """The document with row key ``rk`` of every partition (e.g. every customer's ledger)."""
        for entity, _ in self._client.query(row=safe_key(rk)):
            yield self._decode(entity)

    def partition_keys(self, rk: str) -> Iterator[str]:
        """Every partition holding a row ``rk`` (e.g. every customer with a ledger), reading keys only."""
        for entity, _ in self._client.query(row=safe_key(rk), select=["PartitionKey", "Key"]):
            yield entity.get("Key") or entity["PartitionKey"]

    def _encode(self, pk: str, rk: str, doc: M, extra: dict[str, Any]) -> dict[str, Any]:
        packed = zlib.compress(doc.model_dump_json().encode("utf-8"), 6)
        chunks = [packed[i:i + _CHUNK] for i in range(0, len(packed), _CHUNK)] or [b""]
        if len(chunks) > _MAX_CHUNKS:
            raise DocumentTooLarge(f"{self._name}/{pk}/{rk} is {len(packed)} bytes compressed")
        entity: dict[str, Any] = {"PartitionKey": safe_key(pk), "RowKey": safe_key(rk), "Key": pk,
                                  "Chunks": len(chunks), **extra}
        for i, chunk in enumerate(chunks):
            entity[f"D{i}"] = chunk
        return entity

    def _decode(self, entity: Any) -> M:
        data = b"".join(bytes(entity[f"D{i}"]) for i in range(int(entity["Chunks"])))
        return self._model.model_validate_json(zlib.decompress(data), context=STORED)  # no ingress-only rules
