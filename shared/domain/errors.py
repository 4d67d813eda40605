"""One error root for the domain values: ``DomainError`` (``InvalidCustomerId``, ``CurrencyMismatch`` below it).

Each subclass is also a ``ValueError`` (pydantic turns it into a validation error), as before the root existed.
"""

from __future__ import annotations

__all__ = ["DomainError"]


class DomainError(Exception):
    """Root of every error raised by ``shared.domain``."""
