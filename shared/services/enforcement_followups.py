"""What follows a settled enforcement request: the audit entry (with the decision behind it), the fraud case's
containment state, the team alert for what did not reach the intended state, the case mark and the notices
("we suspended" only after a verified suspension, "reactivated" after a verified lift)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from shared.messaging import Queue
from shared.services.collections import decide
from shared.services.enforcement_checks import Outcome
from shared.services.messages import CollectionsNotice, EnforcementRequest, NoticeTarget
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.ports import Ports


def after(ctx: Ports, req: EnforcementRequest, out: Outcome, now: datetime,
           correlation_id: str) -> None:
    stores = ctx.stores
    audit(ctx, req, out, now, correlation_id)
    if req.reason == "fraud":  # the case's containment state and its escalation come from this verified outcome
        fraud_outcome(ctx, req, out, now)
    elif out.failed:
        _alert_team(ctx, req, out)
    if not out.changed:
        return
    from shared.services.collections import dispatch
    from shared.services.state import CollectionsState

    if req.action == "reactivate":
        if not out.lifted_nonpayment:
            return

        def lifted(state: CollectionsState | None) -> CollectionsState:
            state = state or CollectionsState(customer_id=req.customer_id)
            case = state.case.model_copy(update={"suspended_by_stage": None}) if state.case else None
            return state.model_copy(update={"case": case, "lifts": state.lifts + 1})

        stores.cases.update(req.customer_id, "collections", lifted)
        notice = CollectionsNotice(customer_id=req.customer_id, key=f"{req.key}:reactivated",
                                   stage_id=req.stage_id or "reactivation", template="reactivated",
                                   case_id=req.case_id, reason=req.detail, decision=req.decision)
        ctx.producer.send(Queue.NOTIFICATIONS, notice.envelope(correlation_id or None))
        return
    if req.reason != "nonpayment":
        return

    def mark(state: CollectionsState | None) -> CollectionsState:
        state = state or CollectionsState(customer_id=req.customer_id)
        case = state.case
        if case is not None and case.case_id == req.case_id:
            case = case.model_copy(update={"suspended_by_stage": req.stage_id})
        return state.model_copy(update={"case": case})

    stores.cases.update(req.customer_id, "collections", mark)
    # a payment may have landed while Partner Center was being called: evaluate again now, so a suspension
    # that is no longer due is lifted at once (the safety net sees the records just written)
    decision = decide(stores, ctx.settings, req.customer_id, now)
    undone = decision is not None and any(
        r.action == "reactivate" for r in dispatch(ctx, decision, now, allow_suspend=False,
                                                   actor=req.actor, correlation_id=correlation_id or None).enforcement)
    if not undone:
        for notice in req.then_notify:
            ctx.producer.send(Queue.NOTIFICATIONS, notice.envelope(correlation_id or None))


def fraud_outcome(ctx: Ports, req: EnforcementRequest, out: Outcome, now: datetime) -> None:
    from shared.services.fraud.containment import record_outcome

    record_outcome(ctx, req, out, now)


def audit(ctx: Ports, req: EnforcementRequest, out: Outcome, now: datetime, correlation_id: str) -> None:
    from shared.observability import metrics

    metrics().action(req.action, out.status)
    if out.status in ("failed", "partial", "blocked"):
        metrics().failure("enforcement", out.status)
    ctx.audit.record(AuditEntry(
        customer_id=req.customer_id, action=req.action, actor=req.actor, reason=f"{req.reason}: {req.detail}",
        at=now, correlation_id=correlation_id, outcome=out.status,
        evidence={"key": req.key, "case_id": req.case_id, "stage_id": req.stage_id, "run_id": req.run_id,
                  "changed": out.changed, "failed": out.failed, "detail": out.detail,
                  "targets": [t.model_dump() for t in out.targets],
                  "scope": req.scope.model_dump() if req.scope else None},
        decision=out.decision or req.decision))  # a re-check's fresh decision when it decided, else the asker's


def _alert_team(ctx: Ports, req: EnforcementRequest, out: Outcome) -> None:
    """Tell the team what did not reach the intended state, naming each target and what Partner Center shows."""
    targets = tuple(NoticeTarget(id=t.target, name=t.name, status=t.status, error=t.error or out.failed[t.target])
                    for t in out.targets if t.target in out.failed)
    notice = CollectionsNotice(customer_id=req.customer_id, key=f"{req.key}:alert:{out.status}",
                               stage_id=req.stage_id or req.action, template="team_action_failed",
                               case_id=req.case_id, audience="team", targets=targets,
                               reason=f"{req.action} {out.status}: {out.detail}")
    ctx.producer.send(Queue.NOTIFICATIONS, notice.envelope())
