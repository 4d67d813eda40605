"""The storage port: rows in named tables, with ETags. Azure Tables (``azure.py``) and memory (``memory.py``).

Every repository (documents, audit, idempotency, dead letters) is written once over this port, so the same
code runs on Azure Table storage in production and Azurite in integration tests, and on plain dictionaries in
the functional tests. A row is a flat dict of str/int/bool/bytes values with ``PartitionKey`` and ``RowKey``;
keys given here are already table-safe (``shared.storage.tables.safe_key``). Rows come back in key order
(partition, then row), as Azure returns them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

Row = dict[str, Any]


class Table(Protocol):
    """One table. Conditional writes take the ETag read with the row and raise ``EtagMismatch`` if it moved."""

    def get(self, pk: str, rk: str) -> tuple[Row, str] | None:
        """(row, etag), or None when absent."""
        ...

    def insert(self, row: Row) -> str:
        """Create; raises ``EntityExists`` when present. Returns the new ETag."""
        ...

    def replace(self, row: Row, etag: str | None = None) -> str:
        """Replace a present row (only if unchanged when ``etag`` is given); ``EntityNotFound`` when absent."""
        ...

    def merge(self, row: Row, etag: str | None = None) -> str:
        """Merge the given columns into a present row (conditional on ``etag`` when given)."""
        ...

    def upsert(self, row: Row) -> str:
        """Insert or replace, unconditionally."""
        ...

    def delete(self, pk: str, rk: str, etag: str | None = None) -> None:
        """Delete (a missing row is not an error; conditional on ``etag`` when given)."""
        ...

    def query(self, *, partition: str | None = None, partitions: tuple[str, str] | None = None,
              row: str | None = None, row_prefix: str | None = None,
              where: Mapping[str, str] | None = None, select: Sequence[str] | None = None) -> Iterator[tuple[Row, str]]:
        """Rows of one partition, or of partitions first..last (inclusive), optionally one row key (or the row keys
        starting with ``row_prefix``) each; ``where`` keeps rows whose named columns equal the given strings."""
        ...


class Tables(Protocol):
    """A storage account's tables, created on first use."""

    def table(self, name: str) -> Table: ...


__all__ = ["Row", "Table", "Tables"]
