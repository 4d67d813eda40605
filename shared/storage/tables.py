"""Small helpers over azure-data-tables: table creation once per process, safe keys, JSON columns."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableServiceClient

_FORBIDDEN = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
# (endpoint, account, table) already created in this process. Keyed by address, not by client object: a new
# client at a reused address (a restarted emulator, a second stack in one test process) is a different store.
_created: set[tuple[str, str, str]] = set()


def safe_key(value: str) -> str:
    """Table keys may not contain / \\ # ? or control characters; replace them deterministically."""
    return _FORBIDDEN.sub(lambda m: f"~{ord(m.group()):02x}", value)[:1000]


def table(service: TableServiceClient, name: str) -> TableClient:
    """A TableClient for ``name``, creating the table on first use in this process."""
    marker = (str(service.url), str(getattr(service, "account_name", "") or ""), name)
    if marker not in _created:
        service.create_table_if_not_exists(name)
        _created.add(marker)
    return service.get_table_client(name)


def forget_created() -> None:
    """Forget which tables exist (after the storage behind an address was replaced, e.g. Azurite restarted
    without its data): the next use creates them again."""
    _created.clear()


def dumps(value: Any) -> str:
    """JSON for a table column (Decimals and datetimes as strings)."""
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
