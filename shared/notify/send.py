"""The use case: render a ``Notification`` and deliver it on its channel; return what happened.

Recording "sent once" is the caller's job (it owns storage); this function is safe to repeat because
the e-mail Message-ID and the webhook Idempotency-Key are both derived from the idempotency key.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol

from shared.clock import utcnow
from shared.notify.models import TEAM_RECIPIENT, Channel, Notification, RenderedMessage, SendResult, TemplateId
from shared.notify.render import render_notice
from shared.notify.smtp import SmtpSender, build_email, message_id_for, sender_domain
from shared.notify.webhook import WebhookDelivery, WebhookSender
from shared.settings import Settings


def team_notification(settings: Settings, key: str, template: TemplateId, context: dict[str, Any],
                      language: str = "en") -> Notification:
    """A message to the partner's own team: the team webhook when configured, else the collections contact."""
    if settings.team_webhook_url:
        channel, recipient = Channel.WEBHOOK, TEAM_RECIPIENT
    else:
        channel, recipient = Channel.EMAIL, settings.collections_contact
    return Notification(idempotency_key=key, channel=channel, recipient=recipient, template_id=template,
                        language=language, context=context)


class EmailTransport(Protocol):
    def send(self, message: EmailMessage) -> tuple[str, ...]: ...


class WebhookTransport(Protocol):
    def post(self, payload: dict[str, Any], *, idempotency_key: str) -> WebhookDelivery: ...


def webhook_payload(notification: Notification, rendered: RenderedMessage) -> dict[str, Any]:
    """The JSON posted to the team webhook (pure)."""
    return {
        "source": "csp-guard",
        "idempotency_key": notification.idempotency_key,
        "template_id": rendered.template_id.value,
        "language": rendered.language,
        "title": rendered.subject,
        "text": f"{rendered.subject}\n\n{rendered.text}",
        "data": notification.context,
    }


def send_notification(
    notification: Notification,
    settings: Settings,
    *,
    smtp: EmailTransport | None = None,
    webhook: WebhookTransport | None = None,
    now: datetime | None = None,
) -> SendResult:
    """Render and send one notification.

    Raises ``TemplateError`` (fix the data; do not retry) or ``DeliveryError`` (see ``retryable``).
    Transports default to ones built from ``settings``.
    """
    rendered = render_notice(notification.template_id, notification.language, notification.context)
    base = SendResult(idempotency_key=notification.idempotency_key, channel=notification.channel,
                      recipient=notification.recipient, template_id=rendered.template_id,
                      language=rendered.language, subject=rendered.subject, text=rendered.text[:8000])
    if notification.channel is Channel.EMAIL:
        message_id = message_id_for(notification.idempotency_key, sender_domain(settings.mail_from))
        msg = build_email(rendered, sender=settings.mail_from, to=notification.recipient,
                          cc=notification.cc, message_id=message_id, date=now or utcnow(),
                          extra_headers={"X-CSPGuard-Template": rendered.template_id.value})
        refused = (smtp or SmtpSender.from_settings(settings)).send(msg)
        return base.model_copy(update={"message_id": message_id, "refused_recipients": refused})

    payload = webhook_payload(notification, rendered)
    if webhook is not None:
        delivery = webhook.post(payload, idempotency_key=notification.idempotency_key)
    else:
        with WebhookSender.from_settings(settings) as sender:
            delivery = sender.post(payload, idempotency_key=notification.idempotency_key)
    return base.model_copy(update={"http_status": delivery.status_code, "attempts": delivery.attempts})
