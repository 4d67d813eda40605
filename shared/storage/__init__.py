"""Storage: the Table port (``ports``), its Azure (``azure``) and in-memory (``memory``) adapters, and the
repositories over it (documents, audit, idempotency, dead letters). Errors share one root, ``StorageError``.

Only the errors and the port are imported here (no SDK, no pydantic); import adapters and repositories from
their modules.
"""

from shared.storage.errors import EntityExists, EntityNotFound, EtagMismatch, StorageError, StorageUnavailable
from shared.storage.ports import Row, Table, Tables

__all__ = ["EntityExists", "EntityNotFound", "EtagMismatch", "Row", "StorageError", "StorageUnavailable", "Table",
           "Tables"]
