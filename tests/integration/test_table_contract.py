"""One contract, both adapters: what the repositories rely on from the Table port holds on Azure Table storage
(Azurite) and on the in-memory twin alike, so a functional test on memory means what it would on Azure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.azurite import Azurite
from shared.storage.azure import AzureTables
from shared.storage.errors import EntityExists, EntityNotFound, EtagMismatch
from shared.storage.memory import MemoryTables
from shared.storage.ports import Table

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "azure"])
def table(request: pytest.FixtureRequest, unique_name: str) -> Iterator[Table]:
    if request.param == "memory":
        yield MemoryTables().table(unique_name)
        return
    azurite: Azurite = request.getfixturevalue("azurite")
    tables = AzureTables.from_connection_string(azurite.connection_string)
    yield tables.table(unique_name)
    tables.service.delete_table(unique_name)


def test_insert_if_absent_conditional_writes_and_merge(table: Table) -> None:
    etag = table.insert({"PartitionKey": "p", "RowKey": "r", "A": 1, "B": b"\x00bin"})
    with pytest.raises(EntityExists):
        table.insert({"PartitionKey": "p", "RowKey": "r"})
    newer = table.merge({"PartitionKey": "p", "RowKey": "r", "C": "x"}, etag)
    row, seen = table.get("p", "r") or ({}, "")
    assert (row["A"], bytes(row["B"]), row["C"], seen) == (1, b"\x00bin", "x", newer) and newer != etag
    with pytest.raises(EtagMismatch):
        table.replace({"PartitionKey": "p", "RowKey": "r"}, etag)
    with pytest.raises(EtagMismatch):
        table.delete("p", "r", etag)
    with pytest.raises(EntityNotFound):
        table.merge({"PartitionKey": "p", "RowKey": "absent", "A": 1})
    with pytest.raises(EntityNotFound):
        table.replace({"PartitionKey": "p", "RowKey": "absent"})
    table.delete("p", "absent")  # not an error on either
    assert table.get("p", "absent") is None
    replaced = table.replace({"PartitionKey": "p", "RowKey": "r", "D": True}, newer)
    row, _ = table.get("p", "r") or ({}, "")
    assert "A" not in row and row["D"] is True  # replace drops the other columns, merge keeps them
    table.delete("p", "r", replaced)
    assert table.get("p", "r") is None


def test_queries_by_partition_range_row_prefix_and_column(table: Table) -> None:
    for pk, rk, status in [("a", "run", "x"), ("a", "shard-1", "w"), ("a", "shard-2", "x"), ("b", "run", "w"),
                           ("c", "shard-1", "w"), ("d", "run", "x")]:
        table.upsert({"PartitionKey": pk, "RowKey": rk, "Status": status})

    def keys(**kw: object) -> list[tuple[str, str]]:
        return [(r["PartitionKey"], r["RowKey"]) for r, _ in table.query(**kw)]  # type: ignore[arg-type]

    assert keys() == sorted(keys())  # key order, as Azure returns rows
    assert keys(partition="a") == [("a", "run"), ("a", "shard-1"), ("a", "shard-2")]
    assert keys(partitions=("b", "c")) == [("b", "run"), ("c", "shard-1")]
    assert keys(partition="a", row_prefix="shard-") == [("a", "shard-1"), ("a", "shard-2")]
    assert keys(row="run") == [("a", "run"), ("b", "run"), ("d", "run")]
    assert keys(where={"Status": "w"}) == [("a", "shard-1"), ("b", "run"), ("c", "shard-1")]
    assert keys(partition="a", row_prefix="") == keys(partition="a")  # an empty prefix is no filter
    selected = [r for r, _ in table.query(row="run", select=["PartitionKey"])]
    assert all("Status" not in r for r in selected) and [r["PartitionKey"] for r in selected] == ["a", "b", "d"]
