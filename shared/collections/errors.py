"""One error root for the collections engine, so a caller can catch "the engine refused" in one clause.

::

    CollectionsError
     ├── PolicyError     the policy document is unusable (``source: path: problem`` lines)
     ├── LedgerError     an event that cannot belong to this ledger
     └── CalendarError   a calendar override file that cannot be used

Each is also a ``ValueError`` (as before the root existed), so existing ``except ValueError`` still holds.
"""

from __future__ import annotations

__all__ = ["CalendarError", "CollectionsError", "LedgerError", "PolicyError"]


class CollectionsError(Exception):
    """Root of every error the collections engine raises."""


class PolicyError(CollectionsError, ValueError):
    """The policy document is unusable; the message lists every problem as ``source: path: problem``."""


class LedgerError(CollectionsError, ValueError):
    """An event that cannot belong to this ledger."""


class CalendarError(CollectionsError, ValueError):
    """An override file that cannot be used (names the source and the problem)."""
