"""Fraud containment against Partner Center: targets resolved from the case's signals, and the case's containment
state set from the enforcement worker's verified outcome (never from what was asked for).

Targets are labels (``shared.services.state.target_label``): a subscription id, or "plan-id/entitlement-id" for
an Azure subscription under an Azure plan. A usage signal names the Azure subscription that ran the usage, so
containment disables exactly that one; a licence (e-mail, Office) is only touched when a rule's containment
is ``customer``. A containment Partner Center refuses is a visible case state, retried (bounded) on the next
scan or by an operator, and escalated to the team with the targets that need a person.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

from shared.fraud.cases import Case, ContainmentStatus
from shared.fraud.containment import containment_targets, record_containment_outcome
from shared.partner_center import SubscriptionStatus
from shared.services.fraud.store import CURRENT, CaseRecord
from shared.services.messages import AzureTarget, EnforcementRequest
from shared.services.state import target_label
from shared.services.subscriptions import kind_of
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.ports import Ports as AppContext  # renamed to Ports at the merge
    from shared.services.enforcement import Outcome

log = logging.getLogger("cspguard.fraud.containment")


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


async def resolve_targets(ctx: AppContext, case: Case, exclude: Iterable[str] = ()) -> Targets:
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


def record_outcome(ctx: AppContext, req: EnforcementRequest, out: Outcome, now: datetime) -> None:
    """After the enforcement worker ran a fraud request: the case's containment from the verified outcome, the
    escalation when anything needs a person, and (once the outcome is known) the service request."""
    from shared.services.fraud.requests import raise_service_request

    fs = ctx.fraud
    if req.action == "reactivate":
        if out.failed:
            rec = fs.current(req.customer_id)
            if rec is not None:
                escalate(ctx, rec, "reactivate", out, now)
        return
    if out.status == "dry_run":  # nothing was sent: not a failure, no escalation, no service request
        dry = f"dry run: nothing sent ({out.detail})"

        def note(cur: CaseRecord | None) -> CaseRecord | None:
            if cur is None or cur.case.case_id != req.case_id or not cur.case.is_open:
                return None
            c = cur.case.containment.model_copy(update={"detail": dry})  # its status stays "requested"
            return cur.model_copy(update={"case": cur.case.model_copy(update={"containment": c})})

        fs.cases.update(req.customer_id, CURRENT, note)
        ctx.audit.record(AuditEntry(customer_id=req.customer_id, action="fraud.containment", actor=req.actor,
                                    reason=dry, outcome="dry_run", at=now,
                                    evidence={"case_id": req.case_id, "key": req.key}))
        return
    requested = {target_label(s) for s in req.subscription_ids} | {
        target_label(t.plan_subscription_id, t.entitlement_id) for t in req.entitlements}
    verified = [t.target for t in out.targets if t.verified]
    failed = {t.target: t.error or f"Partner Center shows {t.status}" for t in out.targets if not t.verified}
    if not out.targets:  # nothing ran (dry run, skipped): every requested target stays uncontained, with why
        failed = {label: f"{out.status}: {out.detail}" for label in requested}

    def change(cur: CaseRecord | None) -> CaseRecord | None:
        if cur is None or cur.case.case_id != req.case_id or not cur.case.is_open:
            return None
        case = record_containment_outcome(cur.case, verified, failed, now, by=req.actor)
        return cur.model_copy(update={"case": case})

    rec = fs.cases.update(req.customer_id, CURRENT, change)
    if rec is None:
        return
    c = rec.case.containment
    ctx.audit.record(AuditEntry(customer_id=req.customer_id, action="fraud.containment", actor=req.actor,
                                reason=c.detail, outcome=c.status.value, at=now,
                                evidence={"case_id": req.case_id, "key": req.key, "contained": list(c.contained),
                                          "failed": list(c.failed), "attempts": c.attempts}))
    if c.status is not ContainmentStatus.CONTAINED:
        escalate(ctx, rec, "suspend", out, now)
    try:
        raise_service_request(ctx, fs, req.customer_id, req.actor, "raised once containment was verified", now)
    except Exception as exc:  # the containment state stands; the request can be raised by an operator
        log.warning("service request for %s not queued: %s", req.case_id, exc)


def escalate(ctx: AppContext, rec: CaseRecord, action: str, out: Outcome, now: datetime) -> bool:
    """Tell the team which targets need a person (team_action_failed), once per case, action and attempt."""
    from shared.notify import DeliveryError, TemplateId, team_notification

    settings = ctx.settings
    case = rec.case
    c = case.containment
    key = f"fraud:{case.case_id}:{action}-failed:{c.attempts}"
    rows = [{"id": t.target, "name": t.name or t.target, "status": t.status, "error": t.error}
            for t in out.targets if not t.verified] or [
        {"id": label, "name": label, "status": "not changed", "error": out.detail} for label in c.failed]
    error = (c.detail if action == "suspend" else f"reactivation {out.status}: {out.detail}")[:500]
    context = {"customer": {"name": rec.customer_name or case.customer_id, "tenant_id": case.customer_id},
               "action": action, "subscriptions": rows, "attempts": max(c.attempts, 1),
               "attempted_at": now.isoformat(), "case_id": case.case_id,
               "error": error}
    note = team_notification(settings, key, TemplateId.TEAM_ACTION_FAILED, context)
    try:
        ran, _ = ctx.idempotency.run_once("fraud-escalation", key,
                                          lambda: ctx.notifier.send(note).model_dump(mode="json"))
    except DeliveryError as exc:
        log.warning("fraud escalation %s not delivered: %s", key, exc)
        ctx.audit.record(AuditEntry(customer_id=case.customer_id, action="fraud.escalation", actor="csp-guard",
                                    reason=f"not delivered: {exc}", outcome="failed",
                                    evidence={"case_id": case.case_id, "key": key}))
        return False
    ctx.audit.record(AuditEntry(customer_id=case.customer_id, action="fraud.escalation", actor="csp-guard",
                                reason=error, outcome="sent" if ran else "duplicate",
                                evidence={"case_id": case.case_id, "key": key, "targets": [r["id"] for r in rows]}))
    return bool(ran)
