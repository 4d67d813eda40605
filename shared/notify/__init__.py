"""Notifications: customer notices, team alerts and 21Vianet service requests by e-mail or webhook.

Public surface: ``Notification`` (the notifications-queue payload), ``send_notification`` (the use case),
``render_notice`` (pure rendering), the two adapters and the format helpers. Errors: see ``errors``.
"""

from shared.notify.errors import (
    DeliveryError,
    NotConfigured,
    NotifyError,
    SmtpDeliveryError,
    TemplateContextError,
    TemplateError,
    UnknownTemplate,
    WebhookDeliveryError,
)
from shared.notify.formatting import (
    SUPPORTED_LANGUAGES,
    format_amount,
    format_date,
    format_datetime,
    normalize_language,
)
from shared.notify.models import (
    TEAM_RECIPIENT,
    Channel,
    Notification,
    RenderedMessage,
    SendResult,
    TemplateId,
)
from shared.notify.render import render_notice
from shared.notify.send import EmailTransport, WebhookTransport, send_notification, team_notification, webhook_payload
from shared.notify.smtp import SmtpSender, build_email, message_id_for
from shared.notify.webhook import RetryPolicy, WebhookDelivery, WebhookSender

__all__ = [
    "SUPPORTED_LANGUAGES",
    "TEAM_RECIPIENT",
    "Channel",
    "DeliveryError",
    "EmailTransport",
    "NotConfigured",
    "Notification",
    "NotifyError",
    "RenderedMessage",
    "RetryPolicy",
    "SendResult",
    "SmtpDeliveryError",
    "SmtpSender",
    "TemplateContextError",
    "TemplateError",
    "TemplateId",
    "UnknownTemplate",
    "WebhookDelivery",
    "WebhookDeliveryError",
    "WebhookSender",
    "WebhookTransport",
    "build_email",
    "format_amount",
    "format_date",
    "format_datetime",
    "message_id_for",
    "normalize_language",
    "render_notice",
    "send_notification",
    "team_notification",
    "webhook_payload",
]
