"""Storage errors: one root, raised by both table adapters (Azure errors are translated at the edge).

Callers catch these, never ``azure.core.exceptions``: the in-memory twin raises the same ones, so a use case
behaves the same on both.
"""

from __future__ import annotations


class StorageError(Exception):
    """Root of every error the storage adapters raise."""


class EntityNotFound(StorageError):
    """The row is not there (a conditional update or merge of a missing row)."""


class EntityExists(StorageError):
    """An insert found the row already there (the table's uniqueness is the lock)."""


class EtagMismatch(StorageError):
    """The row changed since it was read (optimistic concurrency)."""


class StorageUnavailable(StorageError):
    """The storage account could not be reached or answered 5xx/throttled: worth retrying later."""


__all__ = ["EntityExists", "EntityNotFound", "EtagMismatch", "StorageError", "StorageUnavailable"]
