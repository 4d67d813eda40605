"""Identifiers shared across areas.

``CustomerId`` is a Partner Center tenant id: a GUID, normalised to its lower-case hyphenated form at
every ingress (queue, HTTP body, route, AR import), so ``ABC...`` and ``abc...`` can never become two
ledgers. Anything else (unicode, ``..``, control characters, ``%``, spaces, OData-looking strings) is
refused with a reason that says what a tenant id looks like.

The other ids are opaque, non-empty, printable strings with a bounded length: bounded because they end
up in table keys and queue messages; no ``/\\#?`` because Azure Table keys forbid those characters.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, StringConstraints, ValidationInfo

from shared.domain.errors import DomainError
from shared.domain.ingress import from_storage

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)


class InvalidCustomerId(DomainError, ValueError):
    """Not a Partner Center tenant id; the message says why."""


def normalise_customer_id(value: object) -> str:
    """The canonical (lower-case) form of a tenant id, or ``InvalidCustomerId``.

    Surrounding whitespace is not trimmed: a producer that sends it has a bug worth seeing."""
    if not isinstance(value, str):
        raise InvalidCustomerId(f"a customer id must be a string, not {type(value).__name__}")
    lowered = value.lower()
    if not _GUID.fullmatch(lowered):
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise InvalidCustomerId(f"{shown!r} is not a customer (tenant) id: expected a GUID like "
                                "'0b6f5d2a-3c1e-4f7a-9d8b-1a2b3c4d5e6f'")
    return lowered


def _at_ingress(value: object, info: ValidationInfo) -> object:
    """An id read back from storage is kept as it was stored (an older version may have stored it)."""
    return value if isinstance(value, str) and from_storage(info) else normalise_customer_id(value)


_ID = StringConstraints(min_length=1, max_length=128, pattern=r"^[^/\\#?\x00-\x1f\x7f]+$")

CustomerId = Annotated[str, BeforeValidator(_at_ingress)]
InvoiceId = Annotated[str, _ID]
PaymentId = Annotated[str, _ID]
EventId = Annotated[str, _ID]
