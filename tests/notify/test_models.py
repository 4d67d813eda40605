"""The notifications-queue payload: validation and the envelope round trip."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from shared.messaging import Envelope, decode_envelope, encode_body
from shared.notify import Channel, Notification, TemplateId
from tests.notify.samples import SAMPLES


def _email(**kw: object) -> Notification:
    base: dict[str, object] = {"idempotency_key": "notice:final:cust-1:case-9", "channel": "email",
                               "recipient": "ap@customer.example", "template_id": "final_notice",
                               "language": "zh-CN", "context": SAMPLES[TemplateId.FINAL_NOTICE]}
    return Notification.model_validate({**base, **kw})


def test_valid_email_notification() -> None:
    n = _email(cc=["cfo@customer.example"])
    assert n.channel is Channel.EMAIL and n.template_id is TemplateId.FINAL_NOTICE


@pytest.mark.parametrize("recipient", ["not-an-address", "a@b", "x@y.example\nBcc: evil@z.example", ""])
def test_bad_recipient_is_rejected(recipient: str) -> None:
    with pytest.raises(ValidationError):
        _email(recipient=recipient)


def test_webhook_goes_to_the_team_only() -> None:
    ok = _email(channel="webhook", recipient="team")
    assert ok.channel is Channel.WEBHOOK
    with pytest.raises(ValidationError):
        _email(channel="webhook", recipient="https://evil.example/hook")


def test_unknown_template_id_is_rejected() -> None:
    with pytest.raises(ValidationError):
        _email(template_id="pay_or_else")


def _envelope(n: Notification, kind: str = "collections.notice") -> Envelope:
    return Envelope(kind=kind, idempotency_key=n.idempotency_key, correlation_id="corr-1",
                    payload=n.model_dump(mode="json"))


def test_envelope_round_trip_keeps_chinese_and_key() -> None:
    n = _email()
    env = _envelope(n)
    back = Notification.model_validate(decode_envelope(base64.b64decode(encode_body(env))).payload)
    assert back == n
    assert back.context["customer_name"] == "北京示例科技有限公司"

