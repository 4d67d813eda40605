"""The 21Vianet evidence pack states exactly the containment outcome Partner Center verified, in both languages."""

from __future__ import annotations

from typing import Any

import pytest

from shared.notify import SUPPORTED_LANGUAGES, TemplateId, render_notice
from tests.notify.samples import AZURE_SUB, SAMPLES, SUBSCRIPTIONS

PLAN = SUBSCRIPTIONS[0]["id"]
AZ = {"kind": "azure", "id": AZURE_SUB, "plan": PLAN, "name": AZURE_SUB}
LICENCE = {"kind": "subscription", "id": SUBSCRIPTIONS[1]["id"], "plan": "", "name": "Dev/Test"}


def _render(lang: str, **containment: Any) -> tuple[str, str]:
    base = {"status": "none", "detail": "-", "verified_at": "", "requested_at": "", "contained": [], "failed": []}
    ctx = {**SAMPLES[TemplateId.SERVICE_REQUEST], "containment": {**base, **containment}}
    msg = render_notice(TemplateId.SERVICE_REQUEST, lang, ctx)
    return msg.text, msg.html


SUSPENDED_CLAIMS = ("We suspended or disabled", "暂停或禁用以下订阅，并已通过回读")


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_verified_containment_names_each_azure_subscription_and_time(lang: str) -> None:
    text, html = _render(lang, status="contained", verified_at="2025-03-14T19:35:00+00:00", contained=[AZ, LICENCE])
    for part in (text, html):
        assert AZURE_SUB in part and PLAN in part and LICENCE["id"] in part
    if lang == "en":
        assert "We suspended or disabled the following at Saturday 15 March 2025, 03:35" in text
        assert "verified by reading Partner Center back" in text
        assert f"Azure subscription {AZURE_SUB} (under Azure plan {PLAN}): disabled (cancelled)" in text
        assert "subscription Dev/Test" in text and ": suspended" in text
    else:
        assert "我们已于 2025年3月15日（星期六）03:35" in text and "并已通过回读合作伙伴中心确认" in text
        assert f"Azure 订阅 {AZURE_SUB}（属于 Azure 计划 {PLAN}）：已禁用（已取消）" in text


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_failed_containment_lists_each_target_with_what_partner_center_showed(lang: str) -> None:
    detail = "900115: Azure plan has active Azure subscriptions"
    pending = "cancel accepted; Partner Center still shows active after 120 s"
    text, html = _render(lang, status="failed", detail=detail, failed=[
        {**AZ, "error": pending}, {**LICENCE, "error": "read back unknown, expected suspended"}])
    for part in (text, html):
        assert detail in part and pending in part and "read back unknown, expected suspended" in part
        assert not any(claim in part for claim in SUSPENDED_CLAIMS)
        # never the false "they remain active": a cancel may be on its way, a target may be unreadable
        assert "remain active" not in part and "仍处于活动状态。" not in part
    assert ("Containment failed: " + detail + ". Nothing is verified suspended or disabled" in text if lang == "en"
            else "遏制措施失败：" + detail + "。没有任何订阅被确认已暂停或禁用" in text)
    assert (f"Azure subscription {AZURE_SUB} (under Azure plan {PLAN}): {pending}" in text if lang == "en"
            else f"Azure 订阅 {AZURE_SUB}（属于 Azure 计划 {PLAN}）：{pending}" in text)


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_partial_containment_lists_what_is_still_active(lang: str) -> None:
    text, _ = _render(lang, status="partial", verified_at="2025-03-14T19:35:00+00:00", contained=[LICENCE],
                      failed=[{**AZ, "error": "active"}], detail="entitlement still active after read-back")
    still = text.split("NOT suspended" if lang == "en" else "未能暂停")[1].split(
        "Partner Center said" if lang == "en" else "合作伙伴中心返回")[0]
    assert AZURE_SUB in still and LICENCE["id"] not in still
    assert "entitlement still active after read-back" in text


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_requested_containment_says_the_outcome_is_not_known(lang: str) -> None:
    text, html = _render(lang, status="requested", requested_at="2025-03-14T19:30:00+00:00")
    for part in (text, html):
        assert not any(claim in part for claim in SUSPENDED_CLAIMS)
    assert ("Partner Center has not yet confirmed its outcome. Do not assume that anything is suspended." in text
            if lang == "en" else "合作伙伴中心尚未确认结果。请勿认为任何订阅已被暂停。" in text)


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_no_containment_claims_nothing(lang: str) -> None:
    text, _ = _render(lang)
    expected = "We have not suspended or disabled anything" if lang == "en" else "我们尚未暂停或禁用任何订阅"
    assert expected in text


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_pack_carries_usage_meters_regions_amounts_and_note(lang: str) -> None:
    ctx = {**SAMPLES[TemplateId.SERVICE_REQUEST], "note": "customer admin unreachable"}
    msg = render_notice(TemplateId.SERVICE_REQUEST, lang, ctx)
    for value in ("Virtual Machines/NCads A100 v4", "chinanorth3", ctx["usage"]["amount_at_risk"],
                  "customer admin unreachable", "FRD-0007"):
        assert value in msg.text and value in msg.html
