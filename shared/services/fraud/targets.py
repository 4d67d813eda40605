"""Which Partner Center targets a fraud case's containment covers, read live: the labels to act on.

Targets are labels (``shared.services.state.target_label``): a subscription id, or "plan-id/entitlement-id" for
an Azure subscription under an Azure plan. A usage signal names the Azure subscription that ran the usage, so
containment disables exactly that one; a licence (e-mail, Office) is only touched when a rule's containment
is ``customer`` (``shared.fraud.containment.containment_targets`` says which; this module asks Partner Center
which of them are active now).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import BaseModel

from shared.fraud.cases import Case
from shared.fraud.containment import containment_targets
from shared.partner_center import SubscriptionStatus
from shared.services.messages import AzureTarget
from shared.services.state import target_label
from shared.services.subscriptions import kind_of

if TYPE_CHECKING:
    from shared.ports import Ports


class Targets(BaseModel):
    """Resolved containment of a case: labels to act on, why, and whether a person must approve first."""

    labels: tuple[str, ...]
    scope: str
    requires_approval: bool
    reasons: tuple[str, ...]


def split_labels(labels: Iterable[str]) -> tuple[tuple[str, ...], tuple[AzureTarget, ...]]:
    """Labels -> (subscription ids to PATCH, Azure subscriptions under their plans)."""
    subs, azure = [], []
    for label in sorted(set(labels)):
        plan, _, ent = label.partition("/")
        if ent:
            azure.append(AzureTarget(plan_subscription_id=plan, entitlement_id=ent))
        else:
            subs.append(label)
    return tuple(subs), tuple(azure)


async def resolve_targets(ctx: Ports, case: Case, exclude: Iterable[str] = ()) -> Targets:
    """What the case's signals name, as Partner Center shows it now: active targets only, minus ``exclude``."""
    plan = containment_targets(case)
    pc = ctx.partner_center()
    subs = [s for s in await pc.list_subscriptions(case.customer_id)
            if s.status == SubscriptionStatus.ACTIVE and not s.is_addon]
    by_id = {s.id.lower(): s for s in subs}
    labels: set[str] = set()

    async def azure_of(plan_id: str, only: set[str] | None = None) -> set[str]:
        ents = await pc.list_azure_entitlements(case.customer_id, plan_id)
        return {target_label(plan_id, e.id) for e in ents if not e.is_off and (only is None or e.id.lower() in only)}

    if plan.scope == "affected":
        pairs: dict[str, set[str]] = {}
        for p, e in plan.entitlements:
            pairs.setdefault(p.lower(), set()).add(e.lower())
        for p, ents in pairs.items():
            if p in by_id and kind_of(by_id[p]) == "azure_plan":
                labels |= await azure_of(by_id[p].id, ents)
        for sid in plan.subscriptions:
            sub = by_id.get(sid.lower())
            if sub is None:
                continue
            labels |= await azure_of(sub.id) if kind_of(sub) == "azure_plan" else {sub.id}
    else:
        for sub in subs:
            kind = kind_of(sub)
            if kind == "azure_plan":
                labels |= await azure_of(sub.id)
            elif kind == "azure_legacy" or plan.scope == "customer":
                labels.add(sub.id)
    return Targets(labels=tuple(sorted(labels - set(exclude))), scope=plan.scope,
                   requires_approval=plan.requires_approval, reasons=plan.reasons)
