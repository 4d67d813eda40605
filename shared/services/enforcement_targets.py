"""What one suspend request touches in Partner Center, read fresh: subscriptions to PATCH, Azure subscriptions
to disable under their Azure plans, and plans whose own suspension the request asks for.

Explicit targets (an operator's subscription ids, a fraud case's Azure subscriptions) win over the policy scope.
An Azure plan is never PATCHed while anything under it is active (Partner Center refuses: 900115): its Azure
subscriptions are disabled instead, and the plan itself is suspended only when the scope says ``suspend_plan``
(or an operator named the plan) and nothing under it is active any more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.partner_center import AzureEntitlement, Subscription, SubscriptionStatus
from shared.services.messages import EnforcementRequest
from shared.services.state import target_label
from shared.services.subscriptions import describe, kind_of, select

if TYPE_CHECKING:
    from shared.ports import PartnerCenter


@dataclass
class SuspendPlan:
    patch: list[Subscription] = field(default_factory=list)  # PATCHed to suspended (with their add-ons)
    azure: dict[str, list[AzureEntitlement]] = field(default_factory=dict)  # plan id -> Azure subscriptions
    plans: list[Subscription] = field(default_factory=list)  # suspended themselves once nothing under is active
    missing: list[str] = field(default_factory=list)  # explicit targets Partner Center does not show
    names: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.patch or any(self.azure.values()) or self.plans or self.missing)

    @property
    def labels(self) -> set[str]:
        """Every target by its label (for taking over records of another reason)."""
        return ({s.id for s in self.patch} | {s.id for s in self.plans}
                | {target_label(p, e.id) for p, ents in self.azure.items() for e in ents})


def _mine(ents: list[AzureEntitlement], plan: str, held: set[str], wanted: set[str] | None = None) -> list[
        AzureEntitlement]:
    """Azure subscriptions not shown off (active or of unknown status), and ones csp-guard already holds (an
    earlier attempt disabled them)."""
    return [e for e in ents if (wanted is None or e.id.lower() in wanted)
            and (not e.is_off or target_label(plan, e.id) in held)]


async def plan_suspension(pc: PartnerCenter, req: EnforcementRequest, subs: list[Subscription],
                          held: set[str]) -> SuspendPlan:
    """Read the customer's Azure subscriptions where needed and say exactly what this request changes."""
    out = SuspendPlan(names={s.id: describe(s)["name"] for s in subs})
    by_id = {s.id.lower(): s for s in subs}
    explicit = {s.lower() for s in req.subscription_ids}
    if explicit or req.entitlements:
        for sid in sorted(explicit):
            sub = by_id.get(sid)
            if sub is None:
                out.missing.append(sid)
            elif kind_of(sub) == "azure_plan" and sub.status == SubscriptionStatus.ACTIVE:
                ents = await pc.list_azure_entitlements(req.customer_id, sub.id)
                out.azure[sub.id] = _mine(ents, sub.id, held)
                out.plans.append(sub)  # a person named the plan itself
            elif sub.status == SubscriptionStatus.ACTIVE:
                out.patch.append(sub)
        wanted: dict[str, set[str]] = {}
        for t in req.entitlements:
            wanted.setdefault(t.plan_subscription_id.lower(), set()).add(t.entitlement_id.lower())
        for plan_id, ids in sorted(wanted.items()):
            plan = by_id.get(plan_id)
            if plan is None:
                out.missing += [target_label(plan_id, e) for e in sorted(ids)]
                continue
            ents = await pc.list_azure_entitlements(req.customer_id, plan.id)
            found = {e.id.lower() for e in ents}
            out.missing += [target_label(plan.id, e) for e in sorted(ids - found)]
            chosen = _mine(ents, plan.id, held, ids)
            known = {e.id for e in out.azure.get(plan.id, [])}
            out.azure[plan.id] = [*out.azure.get(plan.id, []), *(e for e in chosen if e.id not in known)]
        return out
    for sub in select(subs, req.scope):
        if kind_of(sub) == "azure_plan":
            ents = await pc.list_azure_entitlements(req.customer_id, sub.id)
            out.azure[sub.id] = _mine(ents, sub.id, held)
            if req.scope is not None and req.scope.suspend_plan:
                out.plans.append(sub)
        else:
            out.patch.append(sub)
    return out
