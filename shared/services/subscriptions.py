"""Which subscriptions a suspension touches: a pure mapping from Partner Center resources to policy scope."""

from __future__ import annotations

from collections.abc import Iterable

from shared.collections.policy import SuspendScope
from shared.partner_center import Subscription, SubscriptionStatus

AZURE_PLAN_PRODUCT = "DZH318Z0BPS6"  # the Azure plan product id (offer ids are "<product>:<sku>")


def kind_of(sub: Subscription) -> str:
    """``addon``, ``azure_plan``, ``azure_legacy`` (MS-AZR / MS-MC-AZR offers) or ``license``."""
    offer = (sub.offer_id or "").upper()
    if sub.is_addon:
        return "addon"
    if offer.startswith(AZURE_PLAN_PRODUCT):
        return "azure_plan"
    if offer.startswith(("MS-AZR-", "MS-MC-AZR-")):
        return "azure_legacy"
    return "license"


def select(subs: Iterable[Subscription], scope: SuspendScope | None,
           explicit: Iterable[str] = ()) -> list[Subscription]:
    """Active base subscriptions in scope (add-ons follow their parent); explicit ids win over scope."""
    wanted = set(explicit)
    out = []
    for sub in subs:
        if sub.status != SubscriptionStatus.ACTIVE:
            continue
        if wanted:
            if sub.id in wanted:
                out.append(sub)
            continue
        if sub.is_addon or (scope is not None and scope.kind == "none"):
            continue
        if scope is None or scope.kind == "all" or kind_of(sub) in scope.kinds \
                or (sub.offer_id or "") in scope.offer_ids:
            out.append(sub)
    return out


def describe(sub: Subscription) -> dict[str, str]:
    """What a notice shows of a subscription."""
    return {"id": sub.id, "name": sub.friendly_name or sub.offer_name or sub.id}


def is_new_commerce(sub: Subscription) -> bool:
    """A new-commerce licence: its offer id is a catalog item id ("<product>:<sku>:<availability>"), not a legacy
    offer GUID. It keeps billing while suspended and expires if still suspended at term end."""
    return kind_of(sub) == "license" and ":" in (sub.offer_id or "")
