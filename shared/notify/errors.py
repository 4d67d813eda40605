"""One error root for notifications, so callers can tell "fix the data" from "try again later".

::

    NotifyError
     ├── TemplateError              the message cannot be produced: never retry, dead-letter it
     │    ├── UnknownTemplate
     │    └── TemplateContextError  a value the template needs is missing or malformed
     └── DeliveryError              the message was produced but not delivered; ``retryable`` says
          ├── SmtpDeliveryError     whether the queue should try again
          ├── WebhookDeliveryError
          └── NotConfigured         a channel is used without its settings (never retryable)
"""

from __future__ import annotations


class NotifyError(Exception):
    """Root of every error raised by ``shared.notify``."""


class TemplateError(NotifyError):
    """The notice cannot be rendered; retrying will not help."""


class UnknownTemplate(TemplateError):
    """No such template id (or no file for it)."""


class TemplateContextError(TemplateError):
    """The context lacks a value the template uses, or a value has the wrong shape."""


class DeliveryError(NotifyError):
    """Rendering worked, delivery did not. ``retryable`` is False for permanent refusals."""

    def __init__(self, message: str, *, retryable: bool, attempts: int = 1) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.attempts = attempts


class SmtpDeliveryError(DeliveryError):
    """The SMTP relay refused the message or could not be reached."""


class WebhookDeliveryError(DeliveryError):
    """The webhook refused the payload or kept failing after bounded retries."""

    def __init__(self, message: str, *, retryable: bool, attempts: int = 1,
                 status_code: int | None = None) -> None:
        super().__init__(message, retryable=retryable, attempts=attempts)
        self.status_code = status_code


class NotConfigured(DeliveryError):
    """A channel was asked for but its settings are missing."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, attempts=0)
