"""Identifiers shared across areas: opaque, non-empty, printable strings with a bounded length.

Bounded because they end up in table keys and queue messages; no ``/\\#?`` because Azure Table keys
forbid those characters.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

_ID = StringConstraints(min_length=1, max_length=128, pattern=r"^[^/\\#?\x00-\x1f\x7f]+$")

CustomerId = Annotated[str, _ID]
InvoiceId = Annotated[str, _ID]
PaymentId = Annotated[str, _ID]
EventId = Annotated[str, _ID]
