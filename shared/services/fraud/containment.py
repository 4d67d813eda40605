"""Fraud containment against Partner Center: planned from the case's signals, sent through the one enforcement
path, and the case's containment state set from the enforcement worker's verified outcome (never from what was
asked for).

Containment goes through Queue.ENFORCEMENT (reason "fraud"), so the worker's SuspensionRecord(reason="fraud",
case_id=...) is what a payment can never lift and what resolving the case as legitimate reactivates. A
containment Partner Center refuses is a visible case state, retried (bounded) on the next scan or by an
operator, and escalated to the team with the targets that need a person (``alerting.escalate``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.clock import utcnow
from shared.fraud import record_action
from shared.fraud.cases import ContainmentStatus
from shared.fraud.containment import containment_retry_due, mark_containment_requested, record_containment_outcome
from shared.messaging import Queue
from shared.services.errors import ForbiddenError
from shared.services.fraud.alerting import escalate
from shared.services.fraud.cases import CaseConflict, CaseNotFound, audit_case
from shared.services.fraud.requests import raise_service_request
from shared.services.fraud.store import CURRENT, CaseRecord, ContainmentKey, FraudStores, PendingContainment
from shared.services.fraud.targets import resolve_targets, split_labels
from shared.services.messages import EnforcementRequest
from shared.services.state import target_label
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.ports import Ports
    from shared.services.enforcement import Outcome

log = logging.getLogger("cspguard.fraud.containment")


REQUEST_STALE_AFTER = timedelta(hours=1)
"""A containment still "requested" this long after it was sent (its message lost or parked) is planned again."""


def replan_due(rec: CaseRecord, now: datetime) -> bool:
    """Plan (again) unless a containment is in flight or a refused one has used up its automatic attempts."""
    status = rec.case.containment.status
    if status is ContainmentStatus.REQUESTED:
        sent = [e.at for e in rec.case.timeline if e.text.startswith("containment requested")]
        return bool(sent) and now - max(sent) > REQUEST_STALE_AFTER
    return status in (ContainmentStatus.NONE, ContainmentStatus.CONTAINED) or containment_retry_due(rec.case)


def exclude(rec: CaseRecord, now: datetime | None = None) -> list[str]:
    """Targets not to plan again: contained ones, and requested ones whose outcome did not say they failed (all
    requested ones, once a request went stale without an outcome)."""
    c = rec.case.containment
    stale = now is not None and c.status is ContainmentStatus.REQUESTED and replan_due(rec, now)
    retry = set(c.failed) | (set(c.targets) - set(c.contained) if stale else set())
    return sorted((set(rec.requested_targets) | set(c.contained) | set(rec.case.suspended)) - retry)


def scan_requester(fs: FraudStores, run_id: str) -> str | None:
    """Who started the scan run (four eyes: they may not approve the containment it asks for)."""
    run = fs.runs.get(run_id, "fraudscan") if run_id else None
    return run.requested_by if run is not None else None


def ask_approval(fs: FraudStores, customer_id: str, targets: list[str], wide: bool, reasons: tuple[str, ...],
                 now: datetime, requested_by: str | None = None) -> bool:
    """Put the containment on the case as pending a person's approval; True when that is new."""
    def change(rec: CaseRecord | None) -> CaseRecord | None:
        if rec is None or (rec.pending is not None and rec.pending.status == "pending"
                           and set(targets) <= set(rec.pending.subscription_ids)):
            return None
        return rec.model_copy(update={"pending": PendingContainment(
            requested_at=now, subscription_ids=tuple(targets), customer_wide=wide, reasons=reasons,
            requested_by=requested_by)})

    before = fs.current(customer_id)
    after = fs.cases.update(customer_id, CURRENT, change)
    return after is not None and after != before


async def contain(ctx: Ports, customer_id: str, actor: str, now: datetime | None = None,
                  targets: Sequence[str] | None = None, note: str = "") -> CaseRecord:
    """Contain the case's targets (labels: subscription ids, "plan/entitlement" Azure subscriptions) through the
    enforcement queue; the case shows "requested" until the worker's verified outcome arrives.

    With ``targets`` None this approves the pending containment (or, if none is pending, retries what the
    case's signals point at and is not contained yet); ``actor`` is the operator or csp-guard itself.
    """
    fs = ctx.fraud
    now = now or utcnow()
    rec = fs.current(customer_id)
    if rec is None:
        raise CaseNotFound(f"no fraud case for customer {customer_id}")
    if not rec.case.is_open:
        raise CaseConflict(f"case {rec.case.case_id} is {rec.case.status.value}: nothing to contain")
    if targets is None:
        if rec.pending is not None and rec.pending.status == "pending":
            if rec.pending.requested_by and rec.pending.requested_by == actor:
                raise ForbiddenError(f"{actor} started the scan that asked for this containment: a second person "
                                     "must approve it (four eyes)")
            targets = list(rec.pending.subscription_ids)
        else:  # an operator's retry: what the signals name and is not contained yet, refused targets included
            targets = (await resolve_targets(ctx, rec.case, exclude(rec, now))).labels
    targets = sorted(set(targets) - set(exclude(rec, now)))
    if not targets:
        raise CaseConflict(f"case {rec.case.case_id}: nothing active left to contain")
    case_id = rec.case.case_id
    key = f"fraud:{case_id}:contain:{len(rec.containment_keys)}"
    reasons = "; ".join(f"{h.rule_id}: {h.signal.why}" for h in rec.case.hits)
    detail = f"fraud investigation, case {case_id}: {reasons}"
    subscription_ids, entitlements = split_labels(targets)
    request = EnforcementRequest(action="suspend", customer_id=customer_id, reason="fraud", key=key,
                                 detail=detail[:500], actor=actor, case_id=case_id, subscription_ids=subscription_ids,
                                 entitlements=entitlements, requested_at=now)

    def change(cur: CaseRecord | None) -> CaseRecord | None:
        if cur is None or cur.case.case_id != case_id or any(k.key == key for k in cur.containment_keys):
            return None
        text = f"containment requested: {', '.join(targets)}" + (f" ({note})" if note else "")
        pending = cur.pending.model_copy(update={"status": "approved", "decided_by": actor, "decided_at": now}) \
            if cur.pending is not None and cur.pending.status == "pending" else cur.pending
        case = mark_containment_requested(record_action(cur.case, text, now, by=actor), targets, now)
        return cur.model_copy(update={"case": case, "pending": pending,
                                      "containment_keys": [*cur.containment_keys,
                                                           ContainmentKey(key=key, targets=tuple(targets))]})

    ctx.producer.send(Queue.ENFORCEMENT, request.envelope())  # sent before it is recorded as requested, so a
    updated = fs.cases.update(customer_id, CURRENT, change) or rec  # failed send is planned again next scan
    audit_case(ctx, customer_id, "fraud.contain", actor, detail[:300], case_id, {"key": key, "targets": targets})
    # the service request is raised once the worker's verified outcome is known (record_outcome, below)
    return fs.current(customer_id) or updated


def record_outcome(ctx: Ports, req: EnforcementRequest, out: Outcome, now: datetime) -> None:
    """After the enforcement worker ran a fraud request: the case's containment from the verified outcome, the
    escalation when anything needs a person, and (once the outcome is known) the service request."""
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
        raise_service_request(ctx, req.customer_id, req.actor, "raised once containment was verified", now)
    except Exception as exc:  # the containment state stands; the request can be raised by an operator
        log.warning("service request for %s not queued: %s", req.case_id, exc)
