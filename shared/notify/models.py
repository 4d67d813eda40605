"""The notifications queue payload and what rendering and sending return."""

from __future__ import annotations

from email.utils import parseaddr
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TEAM_RECIPIENT = "team"


class TemplateId(StrEnum):
    """Every notice csp-guard can send; each has ``<id>.txt.j2`` and ``<id>.html.j2`` per language."""

    REMINDER_BEFORE_DUE = "reminder_before_due"
    OVERDUE_REMINDER = "overdue_reminder"
    FINAL_NOTICE = "final_notice"
    SUSPENSION_DONE = "suspension_done"
    REACTIVATED = "reactivated"
    TEAM_FRAUD_ALERT = "team_fraud_alert"
    TEAM_ACTION_FAILED = "team_action_failed"
    TEAM_ALERT = "team_alert"
    TEAM_MESSAGE_KEPT = "team_message_kept"  # a message could not be processed and names no customer
    TEAM_STAGE_ENTERED = "team_stage_entered"
    TEAM_RUN_HALTED = "team_run_halted"
    SERVICE_REQUEST = "service_request"
    SERVICE_REQUEST_READY = "service_request_ready"
    TEAM_SUSPENSION_DEADLINE = "team_suspension_deadline"
    TEAM_USAGE_STALLED = "team_usage_stalled"


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


def _check_address(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("an address must be one line")
    _, addr = parseaddr(value)
    local, _, domain = addr.rpartition("@")
    if not local or "." not in domain or " " in addr:
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


class Notification(BaseModel):
    """One notice to send: the payload of an envelope of kind ``notification`` on the notifications queue.

    ``recipient`` is an e-mail address for the e-mail channel and ``"team"`` for the webhook channel
    (the only webhook is ``settings.team_webhook_url``; a queue message cannot redirect it elsewhere).
    ``context`` is JSON data: money as formatted strings, dates as ISO strings (templates format them).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    idempotency_key: str = Field(min_length=1, max_length=400)
    channel: Channel
    recipient: str = Field(min_length=1, max_length=320)
    cc: tuple[str, ...] = ()
    template_id: TemplateId
    language: str = Field(default="en", min_length=1, max_length=35)
    context: dict[str, Any] = Field(default_factory=dict)

    @field_validator("cc")
    @classmethod
    def _cc_are_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_address(v) for v in value)

    @model_validator(mode="after")
    def _recipient_fits_channel(self) -> Notification:
        if self.channel is Channel.EMAIL:
            _check_address(self.recipient)
        elif self.recipient != TEAM_RECIPIENT or self.cc:
            raise ValueError(f"webhook notifications go to recipient {TEAM_RECIPIENT!r} with no cc")
        return self


class RenderedMessage(BaseModel):
    """A rendered notice. ``language`` is the one actually used (after fallback to English)."""

    model_config = ConfigDict(frozen=True)

    template_id: TemplateId
    language: str
    subject: str
    text: str
    html: str


class SendResult(BaseModel):
    """What the caller records as the "sent once" fact for the idempotency key."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    channel: Channel
    recipient: str
    template_id: TemplateId
    language: str
    subject: str
    message_id: str | None = None  # e-mail: the stable Message-ID derived from the idempotency key
    http_status: int | None = None  # webhook: the final status code
    attempts: int = 1
    refused_recipients: tuple[str, ...] = ()  # e-mail: addresses the relay refused (others got it)
    text: str = ""  # the plain text as sent (the console shows it on the customer's timeline)
