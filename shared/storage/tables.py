"""Small helpers over azure-data-tables: table creation once per process, safe keys, JSON columns."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableServiceClient

_FORBIDDEN = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
_created: set[tuple[int, str]] = set()


def safe_key(value: str) -> str:
    """Table keys may not contain / \\ # ? or control characters; replace them deterministically."""
    return _FORBIDDEN.sub(lambda m: f"~{ord(m.group()):02x}", value)[:1000]


def table(service: TableServiceClient, name: str) -> TableClient:
    """A TableClient for ``name``, creating the table on first use in this process."""
    marker = (id(service), name)
    if marker not in _created:
        service.create_table_if_not_exists(name)
        _created.add(marker)
    return service.get_table_client(name)


def dumps(value: Any) -> str:
    """JSON for a table column (Decimals and datetimes as strings)."""
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
