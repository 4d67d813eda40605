"""Suspension scopes: whole customer, Azure usage only, listed kinds; an Azure plan's own suspension only on request."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.collections.policy import SuspendScope
from shared.partner_center import Subscription
from shared.services.subscriptions import select

SUBS = [Subscription(id="plan", offer_id="DZH318Z0BPS6:0001", status="active"),
        Subscription(id="legacy", offer_id="MS-MC-AZR-0033P", status="active"),
        Subscription(id="o365", offer_id="CFQ7TTC0LF8R:0001", status="active"),
        Subscription(id="addon", offer_id="X", status="active", parent_subscription_id="o365")]


def _ids(scope: object) -> list[str]:
    return [s.id for s in select(SUBS, SuspendScope.model_validate(scope))]


def test_scopes_name_exactly_what_they_touch() -> None:
    assert _ids("all") == ["plan", "legacy", "o365"]
    assert _ids("azure_usage") == ["plan", "legacy"]  # never a licence (e-mail, Office)
    assert _ids({"subscription_kinds": ["azure_plan"]}) == ["plan"]
    assert _ids("none") == []


def test_suspend_plan_is_off_unless_the_policy_says_so() -> None:
    assert not SuspendScope.model_validate("azure_usage").suspend_plan
    assert SuspendScope.model_validate({"kind": "azure_usage", "suspend_plan": True}).suspend_plan
    assert SuspendScope.model_validate({"subscription_kinds": ["azure_plan"], "suspend_plan": True}).kind == "selected"
    with pytest.raises(ValidationError, match="lists no subscription_kinds"):
        SuspendScope.model_validate({"kind": "azure_usage", "subscription_kinds": ["license"]})
