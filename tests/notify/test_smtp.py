"""E-mail through a real SMTP server on loopback (devtools.mailbox), read back and checked."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
import trustme

from devtools.azurite import free_port
from devtools.mailbox import Mailbox
from shared.notify import (
    Notification,
    SmtpDeliveryError,
    SmtpSender,
    TemplateContextError,
    TemplateId,
    message_id_for,
    send_notification,
)
from shared.settings import Settings
from tests.notify.conftest import make_settings
from tests.notify.samples import AMOUNT, CUSTOMER_ZH, SAMPLES

pytestmark = pytest.mark.integration

KEY = "notice:final_notice:cust-42:case-7"
NOW = datetime(2025, 3, 18, 1, 0, tzinfo=UTC)


def _final_notice(lang: str = "zh-CN", **kw: object) -> Notification:
    data: dict[str, object] = {"idempotency_key": KEY, "channel": "email",
                               "recipient": "财务 <ap@customer.example>", "template_id": "final_notice",
                               "language": lang, "context": SAMPLES[TemplateId.FINAL_NOTICE]}
    return Notification.model_validate({**data, **kw})


def _parts(msg: EmailMessage) -> tuple[str, str]:
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_final_notice_arrives_intact_in_chinese(mailbox: Mailbox, smtp_settings: Settings) -> None:
    result = send_notification(_final_notice(cc=("cfo@customer.example",)), smtp_settings, now=NOW)
    [msg] = mailbox.wait_for(timeout=5)

    assert result.message_id == message_id_for(KEY, "fabrikam.example")
    assert msg["Message-ID"] == result.message_id
    assert msg["Subject"] == result.subject
    assert msg["Subject"].startswith("最终通知")
    assert AMOUNT in msg["Subject"]
    assert msg["To"] == "财务 <ap@customer.example>"
    assert msg["Content-Language"] == "zh-CN"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = _parts(msg)
    for body in (text, html):
        assert AMOUNT in body and CUSTOMER_ZH in body
        assert "2025年3月20日（星期四）18:00（北京时间）" in body
        assert "6f1c2b7e-0d3a-4a8e-9d51-2b7f0c4e9a11" in body
    assert "<table" in html and "<table" not in text
    mail_from, rcpts = mailbox.envelopes()[0]
    assert mail_from == "collections@fabrikam.example"
    assert sorted(rcpts) == ["ap@customer.example", "cfo@customer.example"]
    # also written to disk for `make run` users
    assert len(list(mailbox.directory.glob("*.eml"))) == 1  # type: ignore[union-attr]


def test_duplicate_send_is_recognisable_by_message_id(mailbox: Mailbox, smtp_settings: Settings) -> None:
    first = send_notification(_final_notice(), smtp_settings)
    second = send_notification(_final_notice(), smtp_settings)
    other = send_notification(_final_notice(idempotency_key=KEY + ":other"), smtp_settings)
    msgs = mailbox.wait_for(lambda m: len(m) == 3, timeout=5)
    ids = [m["Message-ID"] for m in msgs]
    assert ids[0] == ids[1] == first.message_id == second.message_id
    assert ids[2] == other.message_id != first.message_id


def test_english_fallback_for_unknown_language(mailbox: Mailbox, smtp_settings: Settings) -> None:
    result = send_notification(_final_notice(lang="fr-FR"), smtp_settings)
    [msg] = mailbox.wait_for(timeout=5)
    assert result.language == "en"
    assert msg["Subject"].startswith("Final notice")
    text, _ = _parts(msg)
    assert "suspend the following 2 subscription(s)" in text


def test_missing_value_sends_nothing(mailbox: Mailbox, smtp_settings: Settings) -> None:
    ctx = {k: v for k, v in SAMPLES[TemplateId.FINAL_NOTICE].items() if k != "deadline"}
    with pytest.raises(TemplateContextError):
        send_notification(_final_notice(context=ctx), smtp_settings)
    assert mailbox.messages() == []


@pytest.fixture
def tls_mailbox() -> Iterator[tuple[Mailbox, ssl.SSLContext]]:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    box = Mailbox(port=0, credentials=("relay-user", "s3cret"), tls_context=server_ctx).start()
    try:
        yield box, client_ctx
    finally:
        box.stop()


def test_starttls_and_auth(tls_mailbox: tuple[Mailbox, ssl.SSLContext]) -> None:
    box, client_ctx = tls_mailbox
    settings = make_settings(CSPGUARD_SMTP_PORT=box.port, CSPGUARD_SMTP_STARTTLS=True,
                             CSPGUARD_SMTP_USERNAME="relay-user", CSPGUARD_SMTP_PASSWORD="s3cret")
    sender = SmtpSender.from_settings(settings, ssl_context=client_ctx)
    send_notification(_final_notice(), settings, smtp=sender)
    [msg] = box.wait_for(timeout=5)
    assert msg["Message-ID"] == message_id_for(KEY, "fabrikam.example")


def test_wrong_password_is_permanent(tls_mailbox: tuple[Mailbox, ssl.SSLContext]) -> None:
    box, client_ctx = tls_mailbox
    sender = SmtpSender("127.0.0.1", box.port, username="relay-user", password="wrong", starttls=True,
                        ssl_context=client_ctx)
    with pytest.raises(SmtpDeliveryError) as err:
        send_notification(_final_notice(), make_settings(), smtp=sender)
    assert err.value.retryable is False
    assert box.messages() == []


def test_untrusted_certificate_is_permanent(tls_mailbox: tuple[Mailbox, ssl.SSLContext]) -> None:
    box, _ = tls_mailbox
    sender = SmtpSender("127.0.0.1", box.port, username="relay-user", password="s3cret", starttls=True)
    with pytest.raises(SmtpDeliveryError) as err:
        send_notification(_final_notice(), make_settings(), smtp=sender)
    assert err.value.retryable is False


def test_relay_down_is_retryable() -> None:
    settings = make_settings(CSPGUARD_SMTP_PORT=free_port())
    with pytest.raises(SmtpDeliveryError) as err:
        send_notification(_final_notice(), settings)
    assert err.value.retryable is True
