"""The errors use cases raise for operators; HTTP adapters map them to 404 and 409."""


class NotFoundError(LookupError):
    """The customer, case, approval or run does not exist (HTTP 404)."""


class ConflictError(ValueError):
    """The request contradicts the current state: already decided, nothing pending... (HTTP 409)."""


class ForbiddenError(PermissionError):
    """The actor may not do this, e.g. approve their own request (four eyes) (HTTP 403)."""
