"""The storage port in memory: the functional tests' twin of Azure Table storage.

It keeps what the repositories rely on: insert-if-absent, ETags that change on every write, conditional
replace/merge/delete, merge keeping other columns, rows in key order, and a query's rows copied (a caller
mutating a row never changes the table). Thread-safe: services run storage calls in worker threads.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence

from shared.storage.errors import EntityExists, EntityNotFound, EtagMismatch
from shared.storage.ports import Row

_etags = itertools.count(1)


class MemoryTable:
    def __init__(self, name: str) -> None:
        self.name = name
        self._rows: dict[tuple[str, str], tuple[Row, str]] = {}
        self._lock = threading.RLock()

    def get(self, pk: str, rk: str) -> tuple[Row, str] | None:
        with self._lock:
            found = self._rows.get((pk, rk))
            return (copy.deepcopy(found[0]), found[1]) if found else None

    def insert(self, row: Row) -> str:
        with self._lock:
            if _key(row) in self._rows:
                raise EntityExists(f"{self.name}/{_key(row)}: already exists")
            return self._store(row)

    def replace(self, row: Row, etag: str | None = None) -> str:
        with self._lock:
            self._check(_key(row), etag)
            return self._store(row)

    def merge(self, row: Row, etag: str | None = None) -> str:
        with self._lock:
            current = self._check(_key(row), etag)
            return self._store({**current, **row})

    def upsert(self, row: Row) -> str:
        with self._lock:
            return self._store(row)

    def delete(self, pk: str, rk: str, etag: str | None = None) -> None:
        with self._lock:
            if (pk, rk) not in self._rows:
                return
            self._check((pk, rk), etag)
            del self._rows[(pk, rk)]

    def query(self, *, partition: str | None = None, partitions: tuple[str, str] | None = None,
              row: str | None = None, row_prefix: str | None = None,
              where: Mapping[str, str] | None = None, select: Sequence[str] | None = None) -> Iterator[tuple[Row, str]]:
        with self._lock:
            keys = sorted(self._rows)
            matches = [self._rows[k] for k in keys
                       if (partition is None or k[0] == partition)
                       and (partitions is None or partitions[0] <= k[0] <= partitions[1])
                       and (row is None or k[1] == row)
                       and (not row_prefix or k[1].startswith(row_prefix))
                       and all(self._rows[k][0].get(c) == v for c, v in (where or {}).items())]
            out = [({c: v for c, v in r.items() if c in select} if select else copy.deepcopy(r), e)
                   for r, e in matches]
        yield from out

    def _check(self, key: tuple[str, str], etag: str | None) -> Row:
        found = self._rows.get(key)
        if found is None:
            raise EntityNotFound(f"{self.name}/{key[0]}/{key[1]}: not found")
        if etag is not None and found[1] != etag:
            raise EtagMismatch(f"{self.name}/{key[0]}/{key[1]}: changed concurrently")
        return found[0]

    def _store(self, row: Row) -> str:
        etag = f'W/"{next(_etags)}"'
        self._rows[_key(row)] = (copy.deepcopy(row), etag)
        return etag

    def __len__(self) -> int:
        return len(self._rows)


def _key(row: Row) -> tuple[str, str]:
    return str(row["PartitionKey"]), str(row["RowKey"])


class MemoryTables:
    """Named in-memory tables, created on first use (like ``AzureTables``)."""

    def __init__(self) -> None:
        self._tables: dict[str, MemoryTable] = {}
        self._lock = threading.Lock()

    def table(self, name: str) -> MemoryTable:
        with self._lock:
            return self._tables.setdefault(name, MemoryTable(name))


__all__ = ["MemoryTable", "MemoryTables"]
