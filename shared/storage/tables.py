"""Small helpers for table rows: safe keys and JSON columns (the adapters live in ``azure.py``/``memory.py``)."""

from __future__ import annotations

import json
import re
from typing import Any

_FORBIDDEN = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def safe_key(value: str) -> str:
    """Table keys may not contain / \\ # ? or control characters; replace them deterministically."""
    return _FORBIDDEN.sub(lambda m: f"~{ord(m.group()):02x}", value)[:1000]


def dumps(value: Any) -> str:
    """JSON for a table column (Decimals and datetimes as strings)."""
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
