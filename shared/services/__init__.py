"""Use cases: load state through the stores, call an engine, persist the outcome, publish actions.

Each module is one flow (payments in, sweep, enforcement, notices, operator actions). Functions in
``functions/`` and the ``cspguard`` CLI call these; nothing here imports ``azure.functions``.
The package itself exports only the errors use cases raise (``shared.services.errors``).
"""

from shared.services.errors import (
    ArImportError,
    ConflictError,
    EvaluationError,
    ForbiddenError,
    InvalidRequest,
    NotFoundError,
    ServiceError,
    UpstreamError,
)

__all__ = [
    "ArImportError",
    "ConflictError",
    "EvaluationError",
    "ForbiddenError",
    "InvalidRequest",
    "NotFoundError",
    "ServiceError",
    "UpstreamError",
]
