"""Audit log: every enforcement action and operator change, with who, why, when and the evidence."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from shared.clock import utcnow
from shared.domain.trace import DecisionTrace
from shared.storage.tables import dumps, safe_key

if TYPE_CHECKING:
    from shared.storage.ports import Tables

TABLE = "audit"
_MAX = 9_999_999_999_999


class AuditEntry(BaseModel):
    customer_id: str
    action: str  # e.g. "suspend", "reactivate", "exemption.set", "notice.sent"
    actor: str  # "csp-guard:sweep", "operator:alice@partner", ...
    reason: str
    at: datetime = Field(default_factory=lambda: utcnow())
    correlation_id: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)
    outcome: str = "ok"
    decision: DecisionTrace | None = None  # the collections decision behind the action: reasons, fingerprint


class AuditLog:
    """Append-only, newest first per customer (inverted timestamp row keys)."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def record(self, entry: AuditEntry) -> None:
        inverted = _MAX - int(entry.at.timestamp() * 1000)
        self._tables.table(TABLE).insert({
            "PartitionKey": safe_key(entry.customer_id), "RowKey": f"{inverted:013d}-{uuid.uuid4().hex[:8]}",
            "Entry": entry.model_dump_json()})

    def history(self, customer_id: str, limit: int = 100) -> list[AuditEntry]:
        out: list[AuditEntry] = []
        for row, _ in self._tables.table(TABLE).query(partition=safe_key(customer_id)):
            out.append(AuditEntry.model_validate_json(row["Entry"]))
            if len(out) >= limit:
                break
        return out


__all__ = ["AuditEntry", "AuditLog", "dumps"]
