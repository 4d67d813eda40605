"""Queue and table names in infra match the code."""

from __future__ import annotations

import re
from pathlib import Path

from shared.messaging.queues import Queue
from tests.infra.bicep import names, read

SHARED = Path(__file__).resolve().parents[2] / "shared"
# Agreed at the start; the code has since added more (see the scan below), which the template creates too.
EXPECTED_TABLES = {"ledger", "overrides", "cases", "audit", "idempotency", "deadletters", "usage"}


def test_queues_match_the_queue_contract() -> None:
    assert names()["queues"] == [q.value for q in Queue]


def test_tables_are_the_agreed_list() -> None:
    tables = names()["tables"]
    assert set(tables) >= EXPECTED_TABLES
    assert len(tables) == len(set(tables))
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9]{2,62}", t) for t in tables), "Azure table name rules"


def test_every_table_the_code_declares_is_created() -> None:
    """Scans shared/ so a new table cannot ship without the template creating it."""
    # `TABLE = "name"` constants and `DocumentStore(tables, "name", Model)` stores.
    constant = re.compile(
        r'^\s*TABLE(?:_NAME)?\s*(?::\s*str\s*)?=\s*"([^"]+)"|DocumentStore\(\s*\w+,\s*"([^"]+)"', re.MULTILINE
    )
    declared = {
        m.group(1) or m.group(2) for path in SHARED.rglob("*.py") for m in constant.finditer(path.read_text())
    }
    assert {"audit", "idempotency", "deadletters"} <= declared, "the scan finds the TABLE constants"
    missing = sorted(declared - set(names()["tables"]))
    assert not missing, f"add to infra/names.json: {missing}"


def test_the_template_creates_queues_their_poison_queues_and_tables_from_the_one_list() -> None:
    main, storage = read("main.bicep"), read("modules/storage.bicep")
    assert "loadJsonContent('names.json')" in main
    assert "queueNames: names.queues" in main and "tableNames: names.tables" in main
    assert "[for q in queueNames:" in storage and "name: '${q}-poison'" in storage
    assert "[for t in tableNames:" in storage
    assert all(Queue(q).poison == f"{q}-poison" for q in names()["queues"])
