"""Static readers for the Bicep templates (there is no Bicep compiler on these machines)."""

from __future__ import annotations

import json
import re
from pathlib import Path

INFRA = Path(__file__).resolve().parents[2] / "infra"

# An app setting is written as an object whose first two lines are `name: '...'` then `value: ...`.
_SETTING = re.compile(r"\{\s*\n\s*name:\s*'([A-Za-z0-9_]+)'\s*\n\s*value:\s*(.+)")
_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)


def strip_comments(text: str) -> str:
    """Drop whole-line and trailing // comments (keeps '//' inside strings such as https://)."""
    text = _COMMENT.sub("", text)
    return "\n".join(re.sub(r"\s//\s.*$", "", line) for line in text.splitlines())


def app_settings(text: str) -> dict[str, str]:
    """App setting name -> the Bicep expression of its value."""
    return {m.group(1): m.group(2).strip() for m in _SETTING.finditer(strip_comments(text))}


def read(path: str) -> str:
    return (INFRA / path).read_text(encoding="utf-8")


def all_bicep() -> dict[str, str]:
    return {p.relative_to(INFRA).as_posix(): p.read_text(encoding="utf-8") for p in INFRA.rglob("*.bicep")}


def names() -> dict[str, list[str]]:
    data = json.loads(read("names.json"))
    return {"queues": data["queues"], "tables": data["tables"]}
