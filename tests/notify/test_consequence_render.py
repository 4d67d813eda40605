"""Suspension notices say what suspension does for each subscription type, and the team hears before a suspended
subscription reaches its data-deletion date, its term end or the end of its Azure reactivation period."""

from __future__ import annotations

from typing import Any

import pytest

from shared.notify import SUPPORTED_LANGUAGES, TemplateId, render_notice
from tests.notify.samples import SAMPLES, SUBSCRIPTIONS

EXPECTED = {
    "en": ["the Azure subscriptions under this Azure plan are cancelled (disabled); a cancelled Azure subscription "
           "can be reactivated only within 30 days",
           "as a new-commerce subscription it continues to be billed while suspended, and if it is still suspended at "
           "the end of its term (Monday 30 June 2025) it expires and cannot be reactivated",
           "if a suspended subscription is not reactivated within 60 days (by Tuesday 20 May 2025), its data may be "
           "deleted"],
    "zh-CN": ["该 Azure 计划下的 Azure 订阅将被取消（禁用），已取消的 Azure 订阅仅可在 30 天内重新激活",
              "作为新商业订阅，暂停期间仍会继续计费；如在订阅期限结束时（2025年6月30日（星期一））仍处于暂停状态，订阅将过期且无法重新激活",
              "如暂停的订阅未在 60 天内（2025年5月20日（星期二） 前）重新激活，其数据可能被删除"],
}


@pytest.mark.parametrize("tid", [TemplateId.FINAL_NOTICE, TemplateId.SUSPENSION_DONE])
@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_suspension_notices_state_the_consequence_per_subscription_type(tid: TemplateId, lang: str) -> None:
    msg = render_notice(tid, lang, SAMPLES[tid])
    for sentence in EXPECTED[lang]:
        assert sentence in msg.text
        assert sentence in msg.html.replace("\n", "")


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_a_legacy_licence_gets_no_billing_claim(lang: str) -> None:
    ctx = {**SAMPLES[TemplateId.FINAL_NOTICE]}
    ctx["consequences"] = {**ctx["consequences"], "items": [
        {"id": SUBSCRIPTIONS[1]["id"], "name": "Office 365 E3", "kind": "license", "new_commerce": False,
         "term_end": "2025-06-30"}]}
    text = render_notice(TemplateId.FINAL_NOTICE, lang, ctx).text
    assert ("billed while suspended" not in text) if lang == "en" else ("仍会继续计费" not in text)
    assert ("Office 365 E3: its services are unavailable while it is suspended." in text if lang == "en"
            else "Office 365 E3：暂停期间其中的服务无法使用。" in text)


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_an_azure_subscription_under_a_plan_is_named_with_its_reactivation_period(lang: str) -> None:
    ctx = {**SAMPLES[TemplateId.SUSPENSION_DONE]}
    ctx["consequences"] = {**ctx["consequences"], "items": [
        {"id": "az-123", "name": "az-123", "kind": "azure_subscription", "new_commerce": False, "term_end": ""}]}
    text = render_notice(TemplateId.SUSPENSION_DONE, lang, ctx).text
    assert ("Azure subscription az-123: it is cancelled (disabled), and a cancelled Azure subscription can be "
            "reactivated only within 30 days." in text if lang == "en"
            else "Azure 订阅 az-123：将被取消（禁用），已取消的 Azure 订阅仅可在 30 天内重新激活。" in text)


def _deadline(**over: Any) -> dict[str, Any]:
    return {**SAMPLES[TemplateId.TEAM_SUSPENSION_DEADLINE], **over}


@pytest.mark.parametrize(("lang", "subject", "body"), [
    ("en", "data may be deleted from Tuesday 20 May 2025",
     "If it is not reactivated by Tuesday 20 May 2025 (7 day(s) from today), its data may be deleted: the policy "
     "counts 60 days after suspension"),
    ("zh-CN", "自 2025年5月20日（星期二） 起数据可能被删除",
     "如果在 2025年5月20日（星期二）（距今 7 天）前未重新激活，其数据可能被删除："
     "根据世纪互联的文档，本政策按暂停后 60 天计算"),
])
def test_team_alert_before_data_deletion(lang: str, subject: str, body: str) -> None:
    msg = render_notice(TemplateId.TEAM_SUSPENSION_DEADLINE, lang, _deadline())
    assert subject in msg.subject and body in msg.text
    assert SUBSCRIPTIONS[1]["id"] in msg.text and "COL-2025-0042" in msg.text


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_team_alert_before_term_end_of_a_new_commerce_subscription(lang: str) -> None:
    msg = render_notice(TemplateId.TEAM_SUSPENSION_DEADLINE, lang,
                        _deadline(deadline_kind="term_end", deadline="2025-06-30", days_left=3, policy_days=0))
    if lang == "en":
        assert "term ends Monday 30 June 2025 while suspended" in msg.subject
        assert ("As a new-commerce subscription it is billed while suspended, and if it is still suspended at term "
                "end it expires and cannot be reactivated.") in msg.text
    else:
        assert "期限于 2025年6月30日（星期一） 结束" in msg.subject
        assert "作为新商业订阅，暂停期间仍会计费；如期限结束时仍处于暂停状态，订阅将过期且无法重新激活。" in msg.text


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_team_alert_before_an_azure_cancellation_becomes_final(lang: str) -> None:
    ctx = _deadline(deadline_kind="azure_reactivation", deadline="2025-04-20", days_left=-1, policy_days=30,
                    subscription={"id": "az-9", "name": "az-9", "plan": SUBSCRIPTIONS[0]["id"]})
    msg = render_notice(TemplateId.TEAM_SUSPENSION_DEADLINE, lang, ctx)
    plan = SUBSCRIPTIONS[0]["id"]
    if lang == "en":
        assert f"Azure subscription az-9 under Azure plan {plan}" in msg.text
        assert "the policy allows 30 days, until Sunday 20 April 2025" in msg.text
        assert "That date has already passed" in msg.text
    else:
        assert f"Azure 订阅 az-9（属于 Azure 计划 {plan}）" in msg.text and "本政策允许 30 天" in msg.text
        assert "该日期已过" in msg.text
