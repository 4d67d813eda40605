"""The errors use cases raise for operators; HTTP adapters map them to 404 and 409."""


class NotFoundError(LookupError):
    """The customer, case, approval or run does not exist (HTTP 404)."""


class ConflictError(ValueError):
    """The request contradicts the current state: already decided, nothing pending... (HTTP 409)."""


class InvalidRequest(ValueError):
    """The request names something that does not exist or contradicts itself (HTTP 400, naming it)."""


class EvaluationError(RuntimeError):
    """The policy engine failed on one customer's data (e.g. a date stored before the ingress refused it).
    Reported for that customer (status, preview, sweep run, team alert) while every other customer goes on."""

    def __init__(self, customer_id: str, cause: BaseException) -> None:
        super().__init__(f"customer {customer_id} cannot be evaluated: {type(cause).__name__}: {cause}")
        self.customer_id = customer_id


class ForbiddenError(PermissionError):
    """The actor may not do this, e.g. approve their own request (four eyes) (HTTP 403)."""
