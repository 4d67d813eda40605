"""Small helpers over azure-data-tables: table creation once per process, safe keys, JSON columns."""

from __future__ import annotations

import json
import re
import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableServiceClient

_FORBIDDEN = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
# Tables already created, per client object (held weakly: an object id can be reused by a new client once the old
# one is gone, and a new client may point at a new emulator on a reused address) and per (endpoint, table).
_created: weakref.WeakKeyDictionary[Any, set[tuple[str, str]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def safe_key(value: str) -> str:
    """Table keys may not contain / \\ # ? or control characters; replace them deterministically."""
    return _FORBIDDEN.sub(lambda m: f"~{ord(m.group()):02x}", value)[:1000]


def table(service: TableServiceClient, name: str) -> TableClient:
    """A TableClient for ``name``, creating the table on first use in this process."""
    marker = (str(service.url), name)
    with _lock:
        known = _created.setdefault(service, set())
        fresh = marker not in known
    if fresh:
        service.create_table_if_not_exists(name)
        with _lock:
            known.add(marker)
    return service.get_table_client(name)


def forget_created() -> None:
    """Forget which tables exist (after the storage behind an address was replaced, e.g. Azurite restarted
    without its data): the next use creates them again."""
    with _lock:
        _created.clear()


def dumps(value: Any) -> str:
    """JSON for a table column (Decimals and datetimes as strings)."""
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
