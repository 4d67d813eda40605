"""Containment of a fraud case: which targets its signals name, and its state as Partner Center reports it. Pure.

Targets are labels: a Partner Center subscription id, or "plan-id/entitlement-id" for an Azure subscription
under an Azure plan (the unit Partner Center can disable; the plan itself refuses suspension: 900115).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.fraud.case_actions import record_action, record_containment
from shared.fraud.cases import FRAUD_SUSPENSION_REASON, Case, CaseError, Containment, ContainmentStatus
from shared.fraud.rules import ContainmentScope, Outcome

_WIDTH: dict[ContainmentScope, int] = {"affected": 0, "azure_usage": 1, "customer": 2}
MAX_CONTAINMENT_ATTEMPTS = 3
"""Automatic attempts (one per scan) before a refused containment waits for an operator's retry."""


class SuspendOrder(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription_id: str
    reason: Literal["fraud investigation"] = FRAUD_SUSPENSION_REASON
    lifted_by_payment: Literal[False] = False


class ContainmentPlan(BaseModel):
    """What to suspend for a case; payments never lift these suspensions, only resolving the case does."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    customer_id: str
    orders: tuple[SuspendOrder, ...]
    customer_wide: bool
    requires_approval: bool
    reasons: tuple[str, ...]


class ContainmentTargets(BaseModel):
    """What a case's containment covers, from its signals (pure; Partner Center ids are resolved by the caller).

    ``affected``: the Azure subscriptions the signals name (``entitlements`` as (plan, entitlement) pairs, every
    plan of a signal paired with each of its entitlement ids: the caller keeps the pairs Partner Center lists),
    and the subscriptions they name (an Azure plan named without its Azure subscriptions means all of them).
    ``azure_usage``: every Azure subscription of the customer. ``customer``: everything, licences included.
    """

    model_config = ConfigDict(frozen=True)

    scope: ContainmentScope
    subscriptions: tuple[str, ...] = ()
    entitlements: tuple[tuple[str, str], ...] = ()
    requires_approval: bool
    reasons: tuple[str, ...]


def containment_targets(case: Case) -> ContainmentTargets:
    """Targets of a case's containment: exactly what its containing signals name, never "all" by accident.

    A usage signal that names no subscription widens to Azure usage, never to licences; only a rule's
    ``containment: customer`` (or the block list, which contains the customer whatever the detectors say)
    reaches the whole customer.
    """
    if not case.is_open:
        raise CaseError(f"case {case.case_id} is {case.status.value}: nothing to contain")
    contain = [h for h in case.hits if h.outcome is Outcome.CONTAIN]
    reasons = tuple(f"{h.rule_id}: {h.signal.why}" for h in (contain or case.hits))
    if not contain and case.outcome is Outcome.CONTAIN:  # block-listed: contained whatever the detectors say
        return ContainmentTargets(scope="customer", requires_approval=True, reasons=reasons)
    # an operator containing a case its rules only flagged for review contains what those signals name, never
    # the whole customer: a licence (its e-mail) is suspended for usage only when a rule says containment: customer
    approval = case.requires_approval or not contain
    contain = contain or list(case.hits)
    scope: ContainmentScope = "affected"
    subs: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for h in contain:
        wanted: ContainmentScope = h.containment
        if wanted == "affected" and not h.signal.subscription_ids:
            wanted = "azure_usage"
        if _WIDTH[wanted] > _WIDTH[scope]:
            scope = wanted
        if h.signal.entitlement_ids:
            pairs |= {(p, e) for p in h.signal.subscription_ids for e in h.signal.entitlement_ids}
        else:
            subs |= set(h.signal.subscription_ids)
    return ContainmentTargets(scope=scope, subscriptions=tuple(sorted(subs)), entitlements=tuple(sorted(pairs)),
                              requires_approval=approval, reasons=reasons)


def mark_containment_requested(case: Case, targets: Sequence[str], now: datetime) -> Case:
    """Containment sent to enforcement: its outcome is not known yet (never reported as contained)."""
    c = case.containment
    return case.model_copy(update={"containment": c.model_copy(update={
        "status": ContainmentStatus.REQUESTED, "targets": tuple(sorted(set(c.targets) | set(targets))),
        "failed": tuple(t for t in c.failed if t not in set(targets)), "attempts": c.attempts + 1,
        "detail": f"requested: {', '.join(sorted(targets))}"})})


def record_containment_outcome(case: Case, verified: Sequence[str], failed: Mapping[str, str], now: datetime,
                               by: str = "csp-guard") -> Case:
    """Set the case's containment from what Partner Center showed after enforcement (verified by read-back)."""
    c = case.containment
    contained = tuple(sorted(set(c.contained) | set(verified)))
    still = tuple(sorted(set(failed) - set(contained)))
    targets = tuple(sorted(set(c.targets) | set(verified) | set(failed)))
    if not still:
        status, detail = ContainmentStatus.CONTAINED, f"contained: {len(contained)} target(s) verified"
    else:
        first = failed[still[0]]
        status = ContainmentStatus.PARTIAL if contained else ContainmentStatus.FAILED
        detail = f"containment {status.value}: {first}" + (f" (+{len(still) - 1} more)" if len(still) > 1 else "")
    if verified:
        case = record_containment(case, verified, now, by=by)
    if still:
        case = record_action(case, f"{detail}; needs a person: {', '.join(still)}", now, by=by)
    return case.model_copy(update={"containment": Containment(
        status=status, detail=detail[:500], verified_at=now, targets=targets, contained=contained, failed=still,
        errors={t: failed[t][:300] for t in still}, attempts=c.attempts)})


def containment_retry_due(case: Case) -> bool:
    """Whether the next scan re-sends a containment Partner Center refused (bounded; operators can always retry)."""
    c = case.containment
    return c.status in (ContainmentStatus.FAILED, ContainmentStatus.PARTIAL) and c.attempts < MAX_CONTAINMENT_ATTEMPTS


def containment_plan(case: Case, active_subscriptions: Sequence[str]) -> ContainmentPlan:
    """Subscriptions to suspend: those named by containing signals, else all active ones of the customer."""
    if not case.is_open:
        raise CaseError(f"case {case.case_id} is {case.status.value}: nothing to contain")
    contain = [h for h in case.hits if h.outcome is Outcome.CONTAIN]
    named = {s for h in contain for s in h.signal.subscription_ids}
    wide = not contain or any(not h.signal.subscription_ids for h in contain)
    targets = sorted(
        (set(active_subscriptions) if wide else named & set(active_subscriptions)) - set(case.suspended)
    )
    reasons = tuple(f"{h.rule_id}: {h.signal.why}" for h in (contain or case.hits))
    return ContainmentPlan(
        case_id=case.case_id,
        customer_id=case.customer_id,
        orders=tuple(SuspendOrder(subscription_id=s) for s in targets),
        customer_wide=wide,
        requires_approval=case.requires_approval or not contain,
        reasons=reasons,
    )
