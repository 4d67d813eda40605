"""Rendering every template in both languages, strictness about missing values, and fallbacks."""

from __future__ import annotations

import re

import pytest

from shared.notify import (
    SUPPORTED_LANGUAGES,
    TemplateContextError,
    TemplateId,
    UnknownTemplate,
    render_notice,
)
from tests.notify.samples import AMOUNT, CUSTOMER_ZH, SAMPLES, SUBSCRIPTIONS

HAN = re.compile(r"[\u4e00-\u9fff]")
ALL = [(tid, lang) for tid in TemplateId for lang in SUPPORTED_LANGUAGES]


def test_every_template_has_a_sample() -> None:
    assert set(SAMPLES) == set(TemplateId)


@pytest.mark.parametrize(("tid", "lang"), ALL)
def test_renders_every_template_in_both_languages(tid: TemplateId, lang: str) -> None:
    msg = render_notice(tid, lang, SAMPLES[tid])
    partner_wide = tid is TemplateId.TEAM_USAGE_STALLED  # about the feed, not one customer
    assert msg.language == lang
    assert msg.subject and "\n" not in msg.subject
    assert msg.html.startswith("<!DOCTYPE html>")
    assert f'lang="{lang}"' in msg.html
    # the Chinese customer name survives in subject or body, in both parts (a kept message names no customer)
    if tid is not TemplateId.TEAM_MESSAGE_KEPT:
        assert CUSTOMER_ZH in msg.text + msg.subject or tid is TemplateId.SERVICE_REQUEST or partner_wide
        assert CUSTOMER_ZH in msg.html or partner_wide
    assert "{{" not in msg.text and "{%" not in msg.html
    if lang == "zh-CN":
        # the template's own wording is Chinese, not only the data
        assert HAN.search(msg.subject.replace(CUSTOMER_ZH, ""))


@pytest.mark.parametrize(
    ("lang", "deadline", "suspension"),
    [
        ("en", "Thursday 20 March 2025, 18:00 Beijing time (UTC+8)",
         "Friday 21 March 2025, 10:00 Beijing time"),
        ("zh-CN", "2025年3月20日（星期四）18:00（北京时间）", "2025年3月21日（星期五）10:00（北京时间）"),
    ],
)
def test_final_notice_states_amount_deadline_and_exact_consequence(lang: str, deadline: str,
                                                                   suspension: str) -> None:
    msg = render_notice(TemplateId.FINAL_NOTICE, lang, SAMPLES[TemplateId.FINAL_NOTICE])
    assert AMOUNT in msg.subject and deadline in msg.subject
    for part in (msg.text, msg.html):
        assert AMOUNT in part
        assert deadline in part
        assert suspension in part
        for sub in SUBSCRIPTIONS:
            assert sub["id"] in part
            assert sub["name"] in part
    consequence = "暂停以下 2 个订阅" if lang == "zh-CN" else "suspend the following 2 subscription(s)"
    assert consequence in msg.text


@pytest.mark.parametrize("tid", [TemplateId.REMINDER_BEFORE_DUE, TemplateId.OVERDUE_REMINDER,
                                 TemplateId.SUSPENSION_DONE, TemplateId.REACTIVATED])
@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_customer_notices_state_the_amount(tid: TemplateId, lang: str) -> None:
    msg = render_notice(tid, lang, SAMPLES[tid])
    assert AMOUNT in msg.subject and AMOUNT in msg.text and AMOUNT in msg.html


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_service_request_carries_the_evidence_pack(lang: str) -> None:
    ctx = SAMPLES[TemplateId.SERVICE_REQUEST]
    msg = render_notice(TemplateId.SERVICE_REQUEST, lang, ctx)
    for part in (msg.text, msg.html):
        assert ctx["customer"]["tenant_id"] in part
        for s in ctx["signals"]:
            assert s["rule_id"] in part and s["figure"] in part and s["threshold"] in part
        for e in ctx["timeline"]:
            assert e["text"] in part
        assert "19:30" not in part  # times are shown in Beijing time, never raw UTC
    stamp = "2025年3月15日（星期六）03:30" if lang == "zh-CN" else "Saturday 15 March 2025, 03:30"
    assert stamp in msg.text


@pytest.mark.parametrize(("tid", "lang"), ALL)
def test_every_sample_key_is_required(tid: TemplateId, lang: str) -> None:
    """Dropping any top-level value is an error, never a blank in a customer's notice."""
    for key in SAMPLES[tid]:
        ctx = {k: v for k, v in SAMPLES[tid].items() if k != key}
        with pytest.raises(TemplateContextError, match=tid.value):
            render_notice(tid, lang, ctx)


def test_missing_nested_figure_is_an_error() -> None:
    ctx = dict(SAMPLES[TemplateId.SERVICE_REQUEST])
    ctx["signals"] = [{k: v for k, v in ctx["signals"][0].items() if k != "figure"}]
    with pytest.raises(TemplateContextError, match="figure"):
        render_notice(TemplateId.SERVICE_REQUEST, "en", ctx)


def test_naive_datetime_is_rejected_not_guessed() -> None:
    ctx = {**SAMPLES[TemplateId.FINAL_NOTICE], "deadline": "2025-03-20T18:00:00"}
    with pytest.raises(TemplateContextError, match="time zone"):
        render_notice(TemplateId.FINAL_NOTICE, "en", ctx)


def test_unknown_enum_value_in_context_is_an_error() -> None:
    ctx = {**SAMPLES[TemplateId.TEAM_ACTION_FAILED], "action": "delete"}
    with pytest.raises(TemplateContextError):
        render_notice(TemplateId.TEAM_ACTION_FAILED, "zh-CN", ctx)


@pytest.mark.parametrize("tag", ["fr", "de-DE", "", None, "zh-TW"])
def test_unknown_language_falls_back_to_english(tag: str | None) -> None:
    msg = render_notice(TemplateId.OVERDUE_REMINDER, tag, SAMPLES[TemplateId.OVERDUE_REMINDER])
    assert msg.language == "en"
    assert msg.subject.startswith("Overdue:")


@pytest.mark.parametrize("tag", ["zh", "zh_CN", "zh-Hans-CN", "ZH-cn"])
def test_chinese_tags_select_chinese(tag: str) -> None:
    msg = render_notice(TemplateId.OVERDUE_REMINDER, tag, SAMPLES[TemplateId.OVERDUE_REMINDER])
    assert msg.language == "zh-CN"
    assert msg.subject.startswith("逾期提醒")


def test_unknown_template_id() -> None:
    with pytest.raises(UnknownTemplate):
        render_notice("pay_or_else", "en", {})


def test_html_escapes_data_but_text_keeps_it() -> None:
    ctx = {**SAMPLES[TemplateId.REACTIVATED], "customer_name": "<script>alert(1)</script> & Co"}
    msg = render_notice(TemplateId.REACTIVATED, "en", ctx)
    assert "<script>" not in msg.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in msg.html
    assert "<script>alert(1)</script> & Co" in msg.text
