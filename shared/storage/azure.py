"""The storage port over Azure Table storage (``azure-data-tables``): the only module that sees its SDK.

Azure's exceptions are translated here into ``shared.storage.errors`` so nothing above storage imports
``azure.core``: not found, exists and precondition failed map one to one; an unreachable account, a 5xx or a
throttle is ``StorageUnavailable`` (worth retrying later); anything else is a ``StorageError``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from shared.storage.errors import EntityExists, EntityNotFound, EtagMismatch, StorageError, StorageUnavailable
from shared.storage.ports import Row

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableServiceClient

T = TypeVar("T")
# Tables already created, per service client (held weakly: a new client may point at a new emulator on a reused
# address) and per (endpoint, table).
_created: weakref.WeakKeyDictionary[Any, set[tuple[str, str]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Azure SDK errors in, storage errors out."""
    from azure.core.exceptions import (
        AzureError,
        HttpResponseError,
        ResourceExistsError,
        ResourceModifiedError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    try:
        yield
    except ResourceModifiedError as exc:
        raise EtagMismatch(f"{what}: changed concurrently") from exc
    except ResourceExistsError as exc:
        raise EntityExists(f"{what}: already exists") from exc
    except ResourceNotFoundError as exc:
        raise EntityNotFound(f"{what}: not found") from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise StorageUnavailable(f"{what}: storage unreachable: {_first_line(exc)}") from exc
    except HttpResponseError as exc:
        if exc.status_code == 412:
            raise EtagMismatch(f"{what}: changed concurrently") from exc
        if exc.status_code is not None and (exc.status_code >= 500 or exc.status_code in (408, 429)):
            raise StorageUnavailable(f"{what}: storage answered {exc.status_code}: {_first_line(exc)}") from exc
        raise StorageError(f"{what}: {_first_line(exc)}") from exc
    except AzureError as exc:  # e.g. a response that cannot be decoded: retrying would not help
        raise StorageError(f"{what}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class AzureTable:
    """One Azure table behind the ``Table`` port."""

    def __init__(self, client: TableClient, name: str) -> None:
        self._client = client
        self._name = name

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        with translated(f"{self._name}/{what}"):
            return fn()

    def get(self, pk: str, rk: str) -> tuple[Row, str] | None:
        try:
            entity = self._call(f"{pk}/{rk}", lambda: self._client.get_entity(pk, rk))
        except EntityNotFound:
            return None
        return dict(entity), str(entity.metadata["etag"])

    def insert(self, row: Row) -> str:
        return str(self._call(_key(row), lambda: self._client.create_entity(row))["etag"])

    def replace(self, row: Row, etag: str | None = None) -> str:
        return self._update(row, "replace", etag)

    def merge(self, row: Row, etag: str | None = None) -> str:
        return self._update(row, "merge", etag)

    def _update(self, row: Row, mode: str, etag: str | None) -> str:
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        kw: dict[str, Any] = {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}
        how = UpdateMode.REPLACE if mode == "replace" else UpdateMode.MERGE
        return str(self._call(_key(row), lambda: self._client.update_entity(row, mode=how, **kw))["etag"])

    def upsert(self, row: Row) -> str:
        from azure.data.tables import UpdateMode

        return str(self._call(_key(row), lambda: self._client.upsert_entity(row, mode=UpdateMode.REPLACE))["etag"])

    def delete(self, pk: str, rk: str, etag: str | None = None) -> None:
        from azure.core import MatchConditions

        kw: dict[str, Any] = {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}
        self._call(f"{pk}/{rk}", lambda: self._client.delete_entity(pk, rk, **kw))

    def query(self, *, partition: str | None = None, partitions: tuple[str, str] | None = None,
              row: str | None = None, row_prefix: str | None = None,
              where: Mapping[str, str] | None = None, select: Sequence[str] | None = None) -> Iterator[tuple[Row, str]]:
        clauses, params = [], {}
        if partition is not None:
            clauses.append("PartitionKey eq @pk")
            params["pk"] = partition
        if partitions is not None:
            clauses.append("PartitionKey ge @a and PartitionKey le @b")
            params["a"], params["b"] = partitions
        if row is not None:
            clauses.append("RowKey eq @rk")
            params["rk"] = row
        if row_prefix:
            clauses.append("RowKey ge @p and RowKey lt @q")
            params["p"], params["q"] = row_prefix, row_prefix[:-1] + chr(ord(row_prefix[-1]) + 1)
        for i, (column, value) in enumerate(sorted((where or {}).items())):
            clauses.append(f"{column} eq @w{i}")
            params[f"w{i}"] = value
        kw: dict[str, Any] = {"select": list(select)} if select else {}
        with translated(f"{self._name}/query"):
            rows = (self._client.query_entities(" and ".join(clauses), parameters=params, **kw) if clauses
                    else self._client.list_entities(**kw))
            for entity in rows:
                yield dict(entity), str(entity.metadata.get("etag", ""))


def _key(row: Row) -> str:
    return f"{row.get('PartitionKey')}/{row.get('RowKey')}"


class AzureTables:
    """A storage account's tables; each is created once per process on first use."""

    def __init__(self, service: TableServiceClient) -> None:
        self.service = service

    @classmethod
    def from_connection_string(cls, conn: str) -> AzureTables:
        from azure.data.tables import TableServiceClient

        return cls(TableServiceClient.from_connection_string(conn))

    def table(self, name: str) -> AzureTable:
        marker = (str(self.service.url), name)
        with _lock:
            known = _created.setdefault(self.service, set())
            fresh = marker not in known
        if fresh:
            with translated(name):
                self.service.create_table_if_not_exists(name)
            with _lock:
                known.add(marker)
        return AzureTable(self.service.get_table_client(name), name)


__all__ = ["AzureTable", "AzureTables", "translated"]
