"""What a message that could not be processed names: its kind, its customer, its business key.

Read leniently (the message is broken by definition), so a parked or poisoned message can still block
harmful actions for the customer it names. Three readings are tried: the text as the handler saw it, the
raw queue text decoded as base64, and the raw text itself (a producer that forgot base64 sent plain JSON).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

# a Partner Center tenant id, as JSON text: "customer_id": "<guid>" (any case, spaces allowed)
_CUSTOMER = re.compile(r'"customer_?id"\s*:\s*"([0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12})"',
                       re.IGNORECASE)
_KIND = re.compile(r'"kind"\s*:\s*"([a-z][a-z0-9_.-]{0,99})"')
_KEY = re.compile(r'"idempotency_key"\s*:\s*"([^"\\]{1,400})"')


@dataclass(frozen=True)
class Named:
    """What could be read from a broken message (None where nothing could)."""

    kind: str | None = None
    customer_id: str | None = None
    idempotency_key: str | None = None


def decode_base64_text(raw: str) -> str | None:
    """The UTF-8 text under a strictly valid base64 body, or None."""
    try:
        return base64.b64decode(raw.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None


def _from_json(text: str) -> Named | None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    payload: Any = data.get("payload") if isinstance(data.get("payload"), dict) else data
    cid = payload.get("customer_id") if isinstance(payload, dict) else None
    kind, key = data.get("kind"), data.get("idempotency_key")
    return Named(kind=kind if isinstance(kind, str) and _KIND.fullmatch(f'"kind":"{kind}"') else None,
                 customer_id=normalise_customer(cid),
                 idempotency_key=key[:400] if isinstance(key, str) and key else None)


def normalise_customer(value: Any) -> str | None:
    """A customer id in one canonical form (trimmed, lower case: tenant ids are GUIDs), or None if there is none.
    Not validated further: a message naming an invalid id still names it, and must block that customer."""
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    return value if 0 < len(value) <= 200 and value.isprintable() else None


def _from_text(text: str) -> Named:
    parsed = _from_json(text)
    customer = _CUSTOMER.search(text)
    kind = _KIND.search(text)
    key = _KEY.search(text)
    return Named(kind=(parsed.kind if parsed and parsed.kind else (kind.group(1) if kind else None)),
                 customer_id=(parsed.customer_id if parsed and parsed.customer_id
                              else (customer.group(1).lower() if customer else None)),
                 idempotency_key=(parsed.idempotency_key if parsed and parsed.idempotency_key
                                  else (key.group(1) if key else None)))


def names_in(text: str) -> Named:
    """Kind, customer and key of a message body (decoded text, or raw queue text that may be base64)."""
    readings = [text]
    decoded = decode_base64_text(text.strip())
    if decoded is not None:
        readings.insert(0, decoded)
    best = Named()
    for reading in readings:
        found = _from_text(reading)
        best = Named(kind=best.kind or found.kind, customer_id=best.customer_id or found.customer_id,
                     idempotency_key=best.idempotency_key or found.idempotency_key)
    return best
