"""E-mail: build a MIME message (pure) and hand it to an SMTP relay (thin smtplib adapter).

The Message-ID is derived from the notification's idempotency key, so if a crash between "sent" and
"recorded as sent" makes the queue deliver the same notice twice, both copies carry the same
Message-ID: mail clients thread or collapse them and anyone can tell it is one notice, not two.
"""

from __future__ import annotations

import hashlib
import smtplib
import socket
import ssl
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import lru_cache

from shared.notify.errors import SmtpDeliveryError
from shared.notify.models import RenderedMessage
from shared.settings import Settings

DEFAULT_TIMEOUT = 30.0


def message_id_for(idempotency_key: str, domain: str) -> str:
    """Stable RFC 5322 Message-ID for an idempotency key (the key itself may hold any characters).

    128 bits of SHA-256 keep the header on one line for domains up to ~30 characters (a folded
    Message-ID is legal, but some parsers then keep the leading space)."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def sender_domain(mail_from: str) -> str:
    """The domain part of the From address (Message-IDs use it), e.g. ``partner.example``."""
    _, addr = parseaddr(mail_from)
    domain = addr.rpartition("@")[2]
    if not domain:
        raise ValueError(f"mail_from has no domain: {mail_from!r}")
    return domain


def build_email(
    rendered: RenderedMessage,
    *,
    sender: str,
    to: str,
    message_id: str,
    date: datetime,
    cc: tuple[str, ...] = (),
    extra_headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative UTF-8 message: plain text first, HTML preferred by capable clients."""
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(date)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies / vacation loops
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    msg["Content-Language"] = rendered.language  # after set_content, which drops Content-* headers
    return msg


@lru_cache(maxsize=1)
def _ehlo_name() -> str:
    """smtplib looks the FQDN up on every connection (a DNS round trip); once per process is enough."""
    return socket.getfqdn()


def _is_transient(code: int) -> bool:
    return 400 <= code < 500


class SmtpSender:
    """Sends one message per connection through an SMTP relay (optionally STARTTLS and AUTH).

    ``send`` returns the recipients the relay refused while accepting others; it raises
    ``SmtpDeliveryError`` (``retryable`` for 4xx replies and connection trouble) when nobody got it.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._ssl_context = ssl_context

    @classmethod
    def from_settings(cls, settings: Settings, *, ssl_context: ssl.SSLContext | None = None) -> SmtpSender:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(settings.smtp_host, settings.smtp_port, username=settings.smtp_username,
                   password=password, starttls=settings.smtp_starttls, ssl_context=ssl_context)

    def send(self, message: EmailMessage) -> tuple[str, ...]:
        where = f"{self.host}:{self.port}"
        try:
            with smtplib.SMTP(self.host, self.port, local_hostname=_ehlo_name(),
                              timeout=self._timeout) as client:
                if self._starttls:
                    client.starttls(context=self._ssl_context or ssl.create_default_context())
                if self._username:
                    client.login(self._username, self._password or "")
                refused = client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise SmtpDeliveryError(f"{where} refused every recipient: {sorted(exc.recipients)}",
                                    retryable=all(_is_transient(c) for c in codes)) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SmtpDeliveryError(f"{where} does not support a required extension: {exc}",
                                    retryable=False) from None
        except smtplib.SMTPResponseException as exc:
            raise SmtpDeliveryError(f"{where} replied {exc.smtp_code}: {exc.smtp_error!r}",
                                    retryable=_is_transient(exc.smtp_code)) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise SmtpDeliveryError(f"{where} disconnected: {exc}", retryable=True) from None
        except ssl.SSLCertVerificationError as exc:
            raise SmtpDeliveryError(f"{where} certificate not trusted: {exc}", retryable=False) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpDeliveryError(f"cannot deliver through {where}: {exc!r}", retryable=True) from None
        return tuple(sorted(refused))
