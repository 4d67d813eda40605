"""Suspension consequences: the policy's periods, the policy document's wording and the deadlines (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from shared.collections import PolicyError, parse_policy, render_policy_document
from shared.collections.consequences import Suspended, deadlines, due_alerts, term_end
from shared.collections.policy import SuspensionTerms

SHIPPED = (Path(__file__).parents[3] / "config" / "collections-policy.yaml").read_text()
T0 = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)


def _item(**over: object) -> Suspended:
    base: dict[str, object] = {"customer_id": "c1", "subscription_id": "s1", "name": "Office 365 E3",
                               "kind": "license", "new_commerce": True, "term_end": date(2026, 10, 15),
                               "suspended_at": T0, "reason": "nonpayment", "status": "suspended"}
    return Suspended.model_validate({**base, **over})


def test_policy_periods_are_configurable_and_checked() -> None:
    policy = parse_policy(SHIPPED.replace("data_deletion_days: 60", "data_deletion_days: 45"))
    assert policy.suspension.data_deletion_days == 45 and policy.suspension.alert_days_before == 7
    with pytest.raises(PolicyError, match=r"suspension\.alert_days_before"):
        parse_policy(SHIPPED.replace("alert_days_before: 7", "alert_days_before: -1"))
    with pytest.raises(PolicyError, match=r"suspension\.grace"):
        parse_policy(SHIPPED.replace("alert_days_before: 7", "alert_days_before: 7\n  grace: 3"))


@pytest.mark.parametrize(("lang", "sentences"), [
    ("en", ["continue to be billed while\n  they are suspended", "expires and cannot be\n  reactivated",
            "can be reactivated only within 30 days", "not reactivated within 45 days, its data may\n  be deleted"]),
    ("zh-CN", ["在暂停期间仍会继续计费", "订阅将过期且无法重新激活", "仅可在 30 天内重新激活",
               "未在 45 天内重新激活，其数据可能被删除"]),
])
def test_policy_document_states_what_suspension_does(lang: str, sentences: list[str]) -> None:
    doc = render_policy_document(parse_policy(SHIPPED.replace("data_deletion_days: 60", "data_deletion_days: 45")),
                                 lang)  # type: ignore[arg-type]
    for s in sentences:
        assert s in doc


def test_term_end_ignores_the_no_term_date_of_usage_subscriptions() -> None:
    assert term_end(datetime(9999, 12, 14, tzinfo=UTC)) is None and term_end(None) is None
    assert term_end(datetime(2026, 10, 15, tzinfo=UTC)) == date(2026, 10, 15)


def test_deadlines_per_type() -> None:
    terms = SuspensionTerms()
    lic = {d.kind: (d.on, d.policy_days) for d in deadlines(_item(), terms, date(2026, 9, 1))}
    assert lic == {"data_deletion": (date(2026, 10, 31), 60), "term_end": (date(2026, 10, 15), 0)}
    azure = deadlines(_item(entitlement_id="az-1", kind="azure_subscription", term_end=None), terms, date(2026, 9, 1))
    assert [(d.kind, d.on) for d in azure] == [("azure_reactivation", date(2026, 10, 1))]


def test_alerts_come_within_the_window_once_per_date_and_only_while_suspended() -> None:
    terms = SuspensionTerms(alert_days_before=7)
    items = [_item(), _item(subscription_id="s2", status="active"),
             _item(subscription_id="s3", entitlement_id="az-3", kind="azure_subscription", term_end=None,
                   status="active", suspended_at=datetime(2026, 9, 21, 3, tzinfo=UTC))]  # the plan stays active
    assert due_alerts(items, terms, date(2026, 10, 7)) == []
    due = due_alerts(items, terms, date(2026, 10, 8))
    assert [(d.item.subscription_id, d.kind, d.days_left) for d in due] == [("s1", "term_end", 7)]
    later = due_alerts(items, terms, date(2026, 10, 25))
    assert {(d.item.subscription_id, d.kind) for d in later} == {("s1", "term_end"), ("s1", "data_deletion"),
                                                                 ("s3", "azure_reactivation")}
    assert len({d.key for d in later}) == 3 and due[0].key == "deadline:c1:s1:term_end:2026-10-15"
    assert due_alerts(items, SuspensionTerms(alert_days_before=0), date(2026, 10, 25)) == []
