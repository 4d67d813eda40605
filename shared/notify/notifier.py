"""The notifier port: render and deliver one notification. E-mail over SMTP and webhooks in the app
(``SettingsNotifier``); recorded in memory for the functional tests (``MemoryNotifier``), which still render
every template, so a template that cannot render fails there as it would in production.
"""

from __future__ import annotations

import threading
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Protocol

from shared.notify.errors import SmtpDeliveryError
from shared.notify.models import Notification, SendResult
from shared.notify.send import send_notification
from shared.notify.webhook import WebhookDelivery

if TYPE_CHECKING:
    from shared.settings import Settings


class Notifier(Protocol):
    def send(self, notification: Notification, *, webhook_url: str | None = None,
             now: datetime | None = None) -> SendResult:
        """Deliver by e-mail or to the team webhook (``webhook_url`` overrides the team's, for service requests).
        Raises ``TemplateError`` or ``DeliveryError`` (see ``retryable``)."""
        ...


class SettingsNotifier:
    """The relay and webhooks the settings name (a transport per send: nothing is held between invocations)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def send(self, notification: Notification, *, webhook_url: str | None = None,
             now: datetime | None = None) -> SendResult:
        if webhook_url:
            from shared.notify.webhook import WebhookSender

            with WebhookSender(webhook_url) as sender:
                return send_notification(notification, self._settings, webhook=sender, now=now)
        return send_notification(notification, self._settings, now=now)


class MemoryNotifier:
    """Renders like production and keeps what would have been delivered: ``emails`` and ``posts``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.emails: list[EmailMessage] = []
        self.posts: list[dict[str, Any]] = []
        self.refuse: set[str] = set()  # recipients the relay refuses (what a refused-recipient test sets)
        self._lock = threading.Lock()
        self._mail = _Recorder(self)

    def send(self, notification: Notification, *, webhook_url: str | None = None,
             now: datetime | None = None) -> SendResult:
        return send_notification(notification, self._settings, smtp=self._mail, webhook=self._mail, now=now)

    def subjects(self) -> list[str]:
        with self._lock:
            return [str(m["Subject"]) for m in self.emails]


class _Recorder:
    """The EmailTransport and WebhookTransport faces of a MemoryNotifier."""

    def __init__(self, box: MemoryNotifier) -> None:
        self._box = box

    def send(self, message: EmailMessage) -> tuple[str, ...]:
        recipients = [r for r in str(message["To"]).split(", ") if r]
        refused = tuple(r for r in recipients if r in self._box.refuse)
        if recipients and len(refused) == len(recipients):  # as SmtpSender: nobody got it is an error, not a result
            raise SmtpDeliveryError(f"memory relay refused every recipient: {sorted(refused)}", retryable=False)
        with self._box._lock:
            self._box.emails.append(message)
        return refused

    def post(self, payload: dict[str, Any], *, idempotency_key: str) -> WebhookDelivery:
        with self._box._lock:
            self._box.posts.append(payload)
        return WebhookDelivery(status_code=200, attempts=1)


__all__ = ["MemoryNotifier", "Notifier", "SettingsNotifier"]
