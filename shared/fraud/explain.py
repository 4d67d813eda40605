"""Explanations an operator acts on, in the team's language (``en`` or ``zh-CN``).

Every signal says what was measured, the threshold it crossed, the baseline and what that baseline is
made of, where (subscription, Azure subscription, meter, region) and the money at stake. Detectors pass
codes and figures; the wording lives here only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

Language = Literal["en", "zh-CN"]
LANGUAGES: tuple[Language, ...] = ("en", "zh-CN")

WHAT: dict[str, dict[Language, str]] = {
    "spend_spike": {"en": "spend", "zh-CN": "消费"},
    "spend_spike_unit": {"en": "spend of one subscription", "zh-CN": "单个订阅的消费"},
    "new_customer": {"en": "spend of a new customer (day {n} of its life)", "zh-CN": "新客户（第 {n} 天）的消费"},
    "velocity": {"en": "projected exposure at the {invoice} invoice", "zh-CN": "截至 {invoice} 账单的预计敞口"},
    "risky_meter": {"en": "GPU/HPC/ML meter spend", "zh-CN": "GPU/HPC/机器学习计量消费"},
    "new_region": {"en": "net new spend in regions never used before", "zh-CN": "在从未使用过的区域新增的消费"},
    "subscription_burst": {"en": "subscriptions starting to consume", "zh-CN": "开始产生消费的订阅数"},
    "fraud_event": {"en": "Partner Center fraud event {event} ({status})",
                    "zh-CN": "合作伙伴中心欺诈事件 {event}（{status}）"},
}

BASIS: dict[str, dict[Language, str]] = {
    "same_weekday": {"en": "median of the same weekday, last {n} weeks", "zh-CN": "过去 {n} 周同一工作日的中位数"},
    "last_days": {"en": "median of the last {n} days", "zh-CN": "过去 {n} 天的中位数"},
    "notice": {"en": "declared planned change {from_}..{to}", "zh-CN": "客户申报的计划变更 {from_}..{to}"},
    "declared_spend": {"en": "declared expected monthly spend / 30", "zh-CN": "申报的月预期消费 / 30"},
    "peers": {"en": "{stat} of established peers, segment {segment}, size band {band} ({n} customers)",
              "zh-CN": "同业老客户的 {stat}（细分 {segment}，规模 {band}，{n} 家）"},
    "fallback": {"en": "configured fallback", "zh-CN": "配置的默认值"},
    "prior_max": {"en": "highest day of the previous {n} days", "zh-CN": "过去 {n} 天的最高日"},
    "new_tenant": {"en": "tenant created {created}: no earlier use to compare with",
                   "zh-CN": "租户创建于 {created}：此前没有可比较的使用"},
    "limit": {"en": "credit limit + prepayment (accrued {accrued}, burn {burn}/day for {days} days, unpaid {unpaid})",
              "zh-CN": "信用额度 + 预付款（已累计 {accrued}，日消耗 {burn}，剩余 {days} 天，未付 {unpaid}）"},
    "window": {"en": "at most {n} new subscriptions in {days} days", "zh-CN": "{days} 天内最多 {n} 个新订阅"},
    "month_end": {"en": "; month-end calendar effect allowed ({tol}x)", "zh-CN": "；已考虑月末日历效应（{tol} 倍）"},
    "event": {"en": "Microsoft's own alert, {hits} hit(s) since {since}",
              "zh-CN": "微软自身的告警，自 {since} 起 {hits} 次"},
}

LABELS: dict[str, dict[Language, str]] = {
    "lead": {"en": "why flagged: ", "zh-CN": "标记原因："},
    "on": {"en": "{what} on {day}: {observed}", "zh-CN": "{day} 的{what}：{observed}"},
    "crossed": {"en": "crossed the threshold {threshold}", "zh-CN": "超过阈值 {threshold}"},
    "baseline": {"en": "baseline {baseline} ({basis})", "zh-CN": "基线 {baseline}（{basis}）"},
    "subscription": {"en": "subscription", "zh-CN": "订阅"},
    "entitlement": {"en": "Azure subscription", "zh-CN": "Azure 订阅"},
    "meter": {"en": "meter", "zh-CN": "计量"},
    "region": {"en": "region", "zh-CN": "区域"},
    "stake": {"en": "money at stake {amount} {ccy}", "zh-CN": "涉及金额 {amount} {ccy}"},
    "variation": {"en": "{z}x the usual day-to-day variation", "zh-CN": "日常波动的 {z} 倍"},
    "of_day": {"en": "{share} of the day", "zh-CN": "当日消费的 {share}"},
}


def label(code: str, lang: Language, **values: object) -> str:
    """A short phrase for threshold texts, in the team's language."""
    return _pick(LABELS, code, lang).format(**values)


@dataclass(frozen=True)
class Where:
    """The scope a signal names (what containment would target)."""

    subscriptions: Sequence[str] = ()
    entitlements: Sequence[str] = ()
    meters: Sequence[str] = ()
    regions: Sequence[str] = ()


def _pick(table: dict[str, dict[Language, str]], code: str, lang: Language) -> str:
    return table[code].get(lang) or table[code]["en"]


def basis_text(code: str, lang: Language, **values: object) -> str:
    return _pick(BASIS, code, lang).format(**values)


def _where(where: Where, lang: Language) -> str:
    parts = []
    for code, ids in (("subscription", where.subscriptions), ("entitlement", where.entitlements),
                       ("meter", where.meters), ("region", where.regions)):
        if ids:
            shown = ", ".join(list(ids)[:5]) + (f" (+{len(ids) - 5})" if len(ids) > 5 else "")
            parts.append(f"{_pick(LABELS, code, lang)} {shown}")
    return ("；" if lang == "zh-CN" else "; ").join(parts)


def why(
    lang: Language,
    what: str,
    day: date,
    observed: str,
    threshold: str,
    baseline: str,
    basis: str,
    where: Where,
    at_stake: Decimal,
    currency: str = "CNY",
    **values: object,
) -> str:
    """One sentence: measured value, threshold crossed, baseline and basis, scope, money at stake."""
    parts = [
        _pick(LABELS, "lead", lang) + _pick(LABELS, "on", lang).format(
            what=_pick(WHAT, what, lang).format(**values), day=day.isoformat(), observed=observed),
        _pick(LABELS, "crossed", lang).format(threshold=threshold),
        _pick(LABELS, "baseline", lang).format(baseline=baseline, basis=basis),
    ]
    scope = _where(where, lang)
    if scope:
        parts.append(scope)
    parts.append(_pick(LABELS, "stake", lang).format(amount=at_stake, ccy=currency))
    return ("；" if lang == "zh-CN" else "; ").join(parts)
