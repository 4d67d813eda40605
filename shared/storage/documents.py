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
from shared.storage.tables import safe_key, table

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient

M = TypeVar("M", bound=BaseModel)
_CHUNK = 63 * 1024
_MAX_CHUNKS = 15


class DocumentTooLarge(ValueError):
    """The compressed document exceeds what one table entity can hold."""


class ConcurrencyConflict(RuntimeError):
    """The document kept changing under us; the caller's message will be retried."""


class DocumentStore(Generic[M]):
    """Typed documents keyed by (partition, row)."""

    def __init__(self, tables: TableServiceClient, table_name: str, model: type[M]) -> None:
        self._tables = tables
        self._name = table_name
        self._model = model

    @property
    def _client(self) -> Any:
        return table(self._tables, self._name)

    def get(self, pk: str, rk: str) -> M | None:
        found = self.get_with_etag(pk, rk)
        return found[0] if found else None

    def get_with_etag(self, pk: str, rk: str) -> tuple[M, str] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            entity = self._client.get_entity(safe_key(pk), safe_key(rk))
        except ResourceNotFoundError:
            return None
        return self._decode(entity), entity.metadata["etag"]

    def put(self, pk: str, rk: str, doc: M, etag: str | None = None, *, extra: dict[str, Any] | None = None) -> None:
        """Insert when ``etag`` is None (fails if present), else replace only if unchanged."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

        entity = self._encode(pk, rk, doc, extra or {})
        try:
            if etag is None:
                self._client.create_entity(entity)
            else:
                self._client.update_entity(entity, mode="replace", etag=etag,
                                           match_condition=MatchConditions.IfNotModified)
        except (ResourceExistsError, ResourceModifiedError) as exc:
            raise ConcurrencyConflict(f"{self._name}/{pk}/{rk} changed concurrently") from exc

    def upsert(self, pk: str, rk: str, doc: M, *, extra: dict[str, Any] | None = None) -> None:
        self._client.upsert_entity(self._encode(pk, rk, doc, extra or {}), mode="replace")

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
        self._client.delete_entity(safe_key(pk), safe_key(rk))

    def query(self, filter_: str | None = None, parameters: dict[str, Any] | None = None) -> Iterator[M]:
        rows = (self._client.query_entities(filter_, parameters=parameters or {}) if filter_
                else self._client.list_entities())
        for entity in rows:
            yield self._decode(entity)

    def range_with_etags(self, first_pk: str, last_pk: str, rk: str | None = None) -> Iterator[tuple[str, M, str]]:
        """(key, document, etag) for partitions first_pk..last_pk (one query instead of one read per key)."""
        filter_ = "PartitionKey ge @a and PartitionKey le @b" + (" and RowKey eq @rk" if rk is not None else "")
        params = {"a": safe_key(first_pk), "b": safe_key(last_pk), **({"rk": safe_key(rk)} if rk is not None else {})}
        for entity in self._client.query_entities(filter_, parameters=params):
            yield entity.get("Key") or entity["PartitionKey"], self._decode(entity), entity.metadata["etag"]

    def partition(self, pk: str) -> Iterator[M]:
        return self.query("PartitionKey eq @pk", {"pk": safe_key(pk)})

    def partition_keys(self, rk: str) -> Iterator[str]:
        """Every partition holding a row ``rk`` (e.g. every customer with a ledger), reading keys only."""
        rows = self._client.query_entities("RowKey eq @rk", parameters={"rk": safe_key(rk)},
                                           select=["PartitionKey", "Key"])
        for entity in rows:
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
