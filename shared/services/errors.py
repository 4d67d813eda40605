"""The errors use cases raise for operators, under one root; ``functions/_http.py`` maps each to its status.

::

    ServiceError
     ├── NotFoundError     (LookupError)      404: the customer, case, approval, run or letter does not exist
     ├── ConflictError     (ValueError)       409: the request contradicts the current state
     ├── InvalidRequest    (ValueError)       400: the request names something wrong or contradicts itself
     │    └── ArImportError                   the AR file cannot be imported (every problem listed)
     ├── ForbiddenError    (PermissionError)  403: the actor may not do this (four eyes)
     ├── UpstreamError                        502: Partner Center failed; nothing was done
     └── EvaluationError   (RuntimeError)     422: the policy engine failed on one customer's stored data

The second base keeps each error catchable as what it was before the root existed.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


class ServiceError(Exception):
    """Root of every error a use case raises on purpose."""

    details: Mapping[str, Any] = MappingProxyType({})
    """Fields the HTTP answer carries beside ``error`` (e.g. each refused item with its reason)."""


class NotFoundError(ServiceError, LookupError):
    """The customer, case, approval or run does not exist (HTTP 404)."""


class ConflictError(ServiceError, ValueError):
    """The request contradicts the current state: already decided, nothing pending... (HTTP 409)."""


class InvalidRequest(ServiceError, ValueError):
    """The request names something that does not exist or contradicts itself (HTTP 400, naming it)."""


class ArImportError(InvalidRequest):
    """The file cannot be imported; ``problems`` lists every ``file:line: column: problem``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class UpstreamError(ServiceError):
    """A system the use case depends on (Partner Center) failed; nothing was done, try again (HTTP 502)."""


class EvaluationError(ServiceError, RuntimeError):
    """The policy engine failed on one customer's data (e.g. a date stored before the ingress refused it).
    Reported for that customer (status, preview, sweep run, team alert) while every other customer goes on."""

    def __init__(self, customer_id: str, cause: BaseException) -> None:
        super().__init__(f"customer {customer_id} cannot be evaluated: {type(cause).__name__}: {cause}")
        self.customer_id = customer_id


class ForbiddenError(ServiceError, PermissionError):
    """The actor may not do this, e.g. approve their own request (four eyes) (HTTP 403)."""
