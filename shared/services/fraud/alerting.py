"""Team alerts about fraud cases: the case alert (new case, raised outcome, approval needed) and the escalation
when a containment or reactivation needs a person. Each goes out once per key; a failed delivery is audited and
the case stands."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.fraud import Outcome
from shared.fraud.cases import Case
from shared.services.fraud.cases import SYSTEM_ACTOR, audit_case
from shared.services.fraud.srpack import signal_rows
from shared.services.fraud.store import CURRENT, CaseRecord
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.ports import Ports
    from shared.services.enforcement import Outcome as EnforcementOutcome

log = logging.getLogger("cspguard.fraud.alerts")


def action_rows(case: Case) -> list[dict[str, Any]]:
    return [{"at": e.at.isoformat(), "action": e.text, "result": f"by {e.by}"}
            for e in case.timeline if e.kind.value in ("action", "outcome")]


async def send_alert(ctx: Ports, rec: CaseRecord, key: str, now: datetime) -> bool:
    """Tell the partner's team (webhook if configured, else e-mail to the collections contact), once per key."""
    fs = ctx.fraud
    from shared.notify import (
        DeliveryError,
        TemplateId,
        team_notification,
    )

    settings = ctx.settings
    case = rec.case
    at_risk = max((h.signal.amount_at_risk for h in case.hits), default=0)
    pending = rec.pending is not None and rec.pending.status == "pending"
    steps = ([f"approve the containment: POST /api/fraud/cases/{case.customer_id}/contain"] if pending else [])
    steps += ["check the signals with the customer", "raise a service request with 21Vianet if misuse is confirmed",
              f"resolve the case: POST /api/fraud/cases/{case.customer_id}/resolve"]
    context = {
        "customer": {"name": rec.customer_name or case.customer_id, "tenant_id": case.customer_id},
        "severity": "high" if case.outcome is Outcome.CONTAIN else "medium",
        "detected_at": case.first_signal_at.isoformat(),
        "exposure": exposure_text(ctx, case.customer_id, at_risk, now),
        "case_id": case.case_id, "signals": signal_rows(case, with_time=False), "actions": action_rows(case),
        "recommended_actions": steps,
    }
    note = team_notification(settings, key, TemplateId.TEAM_FRAUD_ALERT, context)
    try:
        ran, _ = await ctx.idempotency.run_once_async("fraud-alert", key, lambda: asyncio.to_thread(
            lambda: ctx.notifier.send(note).model_dump(mode="json")))
    except DeliveryError as exc:  # the case stands; the alert is audited as failed and retried on the next change
        log.warning("fraud alert %s not delivered: %s", key, exc)
        audit_case(ctx, case.customer_id, "fraud.alert", SYSTEM_ACTOR, f"not delivered: {exc}", case.case_id,
               {"key": key}, outcome="failed")
        return False
    if ran:
        fs.cases.update(case.customer_id, CURRENT, lambda cur: cur.model_copy(
            update={"alerts": [*cur.alerts, key]}) if cur and cur.case.case_id == case.case_id else None)
    return bool(ran)


def exposure_text(ctx: Ports, customer_id: str, at_risk: Any, now: datetime) -> str:
    """Money at stake (the signals'), then unbilled usage with its as-of date, or why it is not shown."""
    from shared.notify import format_amount

    text = f"{format_amount(at_risk, 'CNY')} at stake"
    doc = ctx.stores.exposure.get(customer_id, "unbilled")
    if doc is None:
        return text
    age = (now - (doc.observed_at or doc.as_of)).total_seconds() / 3600
    if age > ctx.settings.fraud_exposure_max_age_hours:
        return f"{text}; unbilled usage figure stale (read {age:.0f} h ago)"
    return f"{text}; unbilled usage {format_amount(doc.unbilled.amount, doc.unbilled.currency)} " \
           f"as of {doc.as_of.date().isoformat()}"


def escalate(ctx: Ports, rec: CaseRecord, action: str, out: EnforcementOutcome, now: datetime) -> bool:
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
