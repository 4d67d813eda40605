"""Which validation rules are the ingress's: tenant-id form, the date window, plain-decimal amounts and a
currency's minor units. They refuse new input; data that an earlier version already stored is read back
with ``STORED`` as the validation context, which skips them, so a ledger holding a year-9999 hold stays
readable and the engine's per-customer error isolation can report it instead of the read failing."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationInfo

STORED: dict[str, Any] = {"stored": True}
"""Validation context of documents read back from storage."""


def from_storage(info: ValidationInfo | None) -> bool:
    """True when the value is being read back from storage (the ingress rules do not apply)."""
    return bool(info is not None and isinstance(info.context, dict) and info.context.get("stored"))
