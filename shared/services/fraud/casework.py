"""Case services: turn assessments into cases, containment, alerts, approvals and resolutions.

Containment goes through the one enforcement path (Queue.ENFORCEMENT, reason "fraud"), so the worker's
SuspensionRecord(reason="fraud", case_id=...) is what a payment can never lift and what resolving the case
as legitimate reactivates. The case learns which subscriptions were actually suspended by reading those
records back (``sync_suspensions``), never from what it asked for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from shared.clock import utcnow
from shared.fraud import (
    Assessment,
    CaseChange,
    CaseError,
    Outcome,
    open_or_update,
    record_action,
    record_containment,
)
from shared.fraud import add_note as case_add_note
from shared.fraud import resolve as case_resolve
from shared.fraud.cases import Case, ContainmentStatus
from shared.fraud.containment import containment_retry_due, mark_containment_requested
from shared.messaging import Queue
from shared.services.errors import ConflictError, ForbiddenError, NotFoundError
from shared.services.fraud.containment import resolve_targets, split_labels
from shared.services.fraud.store import CURRENT, CaseRecord, FraudStores, PendingContainment
from shared.services.messages import EnforcementRequest
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.ports import Ports as AppContext  # renamed to Ports at the merge

log = logging.getLogger("cspguard.fraud.cases")
SYSTEM_ACTOR = "csp-guard:fraud"


class CaseNotFound(NotFoundError):
    """No fraud case for this customer."""


class CaseConflict(ConflictError):
    """The case's state does not allow this (resolved already, nothing pending...)."""


class CaseEffects(BaseModel):
    """What applying one assessment did (counted in the scan run)."""

    case_id: str | None = None
    opened: bool = False
    updated: bool = False
    contained: bool = False
    pending_approval: bool = False
    alerted: bool = False


def _now() -> datetime:
    return utcnow()


def _archive_if_closed(fs: FraudStores, customer_id: str) -> None:
    """Before a new incident replaces a resolved case in the ``current`` row, keep the old one."""
    rec = fs.current(customer_id)
    if rec is not None and not rec.case.is_open:
        fs.cases.upsert(customer_id, rec.case.case_id, rec)


async def apply_assessment(ctx: AppContext, fs: FraudStores, a: Assessment, now: datetime,
                           customer_name: str = "", run_id: str = "") -> CaseEffects:
    """Open or update the customer's case from an assessment and act on its outcome."""
    if a.outcome is Outcome.ALLOW and a.listed != "block":
        return CaseEffects()
    _archive_if_closed(fs, a.customer_id)
    seen: dict[str, Any] = {}

    def change(rec: CaseRecord | None) -> CaseRecord | None:
        case, changes = open_or_update(rec.case if rec else None, a, now)
        seen["changes"] = changes
        if not changes or case is None:
            return None
        if rec is None or rec.case.case_id != case.case_id:
            return CaseRecord(case=case, customer_name=customer_name)
        return rec.model_copy(update={"case": case, "customer_name": rec.customer_name or customer_name})

    rec = fs.cases.update(a.customer_id, CURRENT, change)
    changes: list[CaseChange] = seen.get("changes", [])
    if rec is None:
        return CaseEffects()
    kinds = {c.kind for c in changes}
    effects = CaseEffects(case_id=rec.case.case_id, opened="opened" in kinds,
                          updated=bool(kinds) and "opened" not in kinds)
    if changes:
        _audit(ctx, a.customer_id, "fraud.case." + ("opened" if effects.opened else "updated"), SYSTEM_ACTOR,
               "; ".join(c.detail for c in changes), rec.case.case_id,
               {"run_id": run_id, "outcome": rec.case.outcome})
    # containment is re-planned on every scan while the case is open (targets already contained or in flight
    # are skipped), so a scan that died after opening the case cannot leave it uncontained, and a containment
    # Partner Center refused is retried on the next scans (bounded; an operator can always retry)
    if rec.case.outcome is Outcome.CONTAIN and rec.case.is_open and _replan_due(rec, now):
        plan = await resolve_targets(ctx, rec.case, _exclude(rec, now))
        approved = set(rec.case.containment.targets)  # asked for before (approved then): a retry needs no new yes
        if plan.labels and plan.requires_approval and not set(plan.labels) <= approved:
            effects.pending_approval = _ask_approval(fs, a.customer_id, list(plan.labels),
                                                     plan.scope != "affected", plan.reasons, now,
                                                     _scan_requester(fs, run_id))
        elif plan.labels:
            await contain(ctx, fs, a.customer_id, SYSTEM_ACTOR, now, targets=plan.labels)
            effects.contained = True
    if kinds & {"opened", "outcome_raised"} or effects.pending_approval:
        current = fs.current(a.customer_id) or rec
        key = f"fraud:{current.case.case_id}:alert:{current.case.outcome.value}:{len(current.case.hits)}"
        effects.alerted = await send_alert(ctx, fs, current, key, now)
    return effects


def _requested(rec: CaseRecord) -> list[str]:
    return [s for k in rec.containment_keys for s in k.split("|", 1)[1].split(",") if "|" in k]


REQUEST_STALE_AFTER = timedelta(hours=1)
"""A containment still "requested" this long after it was sent (its message lost or parked) is planned again."""


def _replan_due(rec: CaseRecord, now: datetime) -> bool:
    """Plan (again) unless a containment is in flight or a refused one has used up its automatic attempts."""
    status = rec.case.containment.status
    if status is ContainmentStatus.REQUESTED:
        sent = [e.at for e in rec.case.timeline if e.text.startswith("containment requested")]
        return bool(sent) and now - max(sent) > REQUEST_STALE_AFTER
    return status in (ContainmentStatus.NONE, ContainmentStatus.CONTAINED) or containment_retry_due(rec.case)


def _exclude(rec: CaseRecord, now: datetime | None = None) -> list[str]:
    """Targets not to plan again: contained ones, and requested ones whose outcome did not say they failed (all
    requested ones, once a request went stale without an outcome)."""
    c = rec.case.containment
    stale = now is not None and c.status is ContainmentStatus.REQUESTED and _replan_due(rec, now)
    retry = set(c.failed) | (set(c.targets) - set(c.contained) if stale else set())
    return sorted((set(_requested(rec)) | set(c.contained) | set(rec.case.suspended)) - retry)


def _scan_requester(fs: FraudStores, run_id: str) -> str | None:
    run = fs.runs.get(run_id, "fraudscan") if run_id else None
    return run.requested_by if run is not None else None


def _ask_approval(fs: FraudStores, customer_id: str, targets: list[str], wide: bool, reasons: tuple[str, ...],
                  now: datetime, requested_by: str | None = None) -> bool:
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


async def contain(ctx: AppContext, fs: FraudStores, customer_id: str, actor: str, now: datetime | None = None,
                  targets: Sequence[str] | None = None, note: str = "") -> CaseRecord:
    """Contain the case's targets (labels: subscription ids, "plan/entitlement" Azure subscriptions) through the
    enforcement queue; the case shows "requested" until the worker's verified outcome arrives.

    With ``targets`` None this approves the pending containment (or, if none is pending, retries what the
    case's signals point at and is not contained yet); ``actor`` is the operator or csp-guard itself.
    """
    now = now or _now()
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
            targets = (await resolve_targets(ctx, rec.case, _exclude(rec, now))).labels
    targets = sorted(set(targets) - set(_exclude(rec, now)))
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
        if cur is None or cur.case.case_id != case_id or any(k.startswith(key + "|") for k in cur.containment_keys):
            return None
        text = f"containment requested: {', '.join(targets)}" + (f" ({note})" if note else "")
        pending = cur.pending.model_copy(update={"status": "approved", "decided_by": actor, "decided_at": now}) \
            if cur.pending is not None and cur.pending.status == "pending" else cur.pending
        case = mark_containment_requested(record_action(cur.case, text, now, by=actor), targets, now)
        return cur.model_copy(update={"case": case, "pending": pending,
                                      "containment_keys": [*cur.containment_keys, f"{key}|{','.join(targets)}"]})

    ctx.producer.send(Queue.ENFORCEMENT, request.envelope())  # sent before it is recorded as requested, so a
    updated = fs.cases.update(customer_id, CURRENT, change) or rec  # failed send is planned again next scan
    _audit(ctx, customer_id, "fraud.contain", actor, detail[:300], case_id, {"key": key, "targets": targets})
    # the service request is raised once the worker's verified outcome is known (containment.record_outcome)
    return fs.current(customer_id) or updated


def sync_suspensions(ctx: AppContext, fs: FraudStores, customer_id: str) -> CaseRecord | None:
    """Record on the case the suspensions the enforcement worker actually carried out for it."""
    rec = fs.current(customer_id)
    if rec is None or not rec.case.is_open:
        return rec
    done = [r for r in ctx.stores.suspended_by_us(customer_id) if r.reason == "fraud"
            and r.case_id == rec.case.case_id and r.verified_at is not None and r.label not in rec.case.suspended]
    if not done:
        return rec
    at = max(r.suspended_at for r in done)
    by = done[0].suspended_by

    def change(cur: CaseRecord | None) -> CaseRecord | None:
        if cur is None or cur.case.case_id != rec.case.case_id or not cur.case.is_open:
            return None
        new = [r.label for r in done if r.label not in cur.case.suspended]
        return cur.model_copy(update={"case": record_containment(cur.case, new, at, by=by)}) if new else None

    return fs.cases.update(customer_id, CURRENT, change) or rec


def resolve_case(ctx: AppContext, fs: FraudStores, customer_id: str, label: Literal["legitimate", "fraud"],
                 by: str, note: str = "", now: datetime | None = None,
                 suppress_days: int = 0) -> tuple[CaseRecord, EnforcementRequest | None]:
    """Close the case with its label; legitimate reactivates every subscription this case suspended."""
    now = now or _now()
    rec = sync_suspensions(ctx, fs, customer_id)
    if rec is None:
        raise CaseNotFound(f"no fraud case for customer {customer_id}")
    if not rec.case.is_open:
        raise CaseConflict(f"case {rec.case.case_id} is already {rec.case.status.value}")
    case_id = rec.case.case_id
    ours = {r.label for r in ctx.stores.suspended_by_us(customer_id) if r.reason == "fraud" and r.case_id == case_id}
    try:
        closed, plan = case_resolve(rec.case, label, now, by, note, suppress_days)
    except CaseError as exc:
        raise CaseConflict(str(exc)) from exc
    subs = tuple(sorted(set(plan.subscription_ids) | ours)) if label == "legitimate" else ()
    request = None
    if subs:
        sub_ids, entitlements = split_labels(subs)
        request = EnforcementRequest(action="reactivate", customer_id=customer_id, reason="fraud",
                                     key=f"fraud:{case_id}:reactivate", detail=plan.reason[:500], actor=by,
                                     case_id=case_id, subscription_ids=sub_ids, entitlements=entitlements,
                                     requested_at=now)

    def change(cur: CaseRecord | None) -> CaseRecord | None:
        if cur is None or cur.case.case_id != case_id or not cur.case.is_open:
            return None
        return cur.model_copy(update={"case": closed, "reactivation_key": request.key if request else None})

    updated = fs.cases.update(customer_id, CURRENT, change)
    if updated is None or updated.case.is_open:
        raise CaseConflict(f"case {case_id} changed while resolving; try again")
    fs.cases.upsert(customer_id, case_id, updated)
    if request is not None:
        ctx.producer.send(Queue.ENFORCEMENT, request.envelope())
    _audit(ctx, customer_id, "fraud.resolve", by, f"resolved as {label}" + (f": {note}" if note else ""), case_id,
           {"reactivate": list(subs)})
    return updated, request


def add_note(ctx: AppContext, fs: FraudStores, customer_id: str, text: str, by: str,
             now: datetime | None = None) -> CaseRecord:
    now = now or _now()
    rec = fs.current(customer_id)
    if rec is None:
        raise CaseNotFound(f"no fraud case for customer {customer_id}")
    try:
        noted = case_add_note(rec.case, text, now, by)
    except CaseError as exc:
        raise CaseConflict(str(exc)) from exc
    case_id = rec.case.case_id

    def change(cur: CaseRecord | None) -> CaseRecord | None:
        if cur is None or cur.case.case_id != case_id:
            return None
        return cur.model_copy(update={"case": case_add_note(cur.case, text, now, by)})

    return fs.cases.update(customer_id, CURRENT, change) or rec.model_copy(update={"case": noted})


def _figures(figures: dict[str, Any]) -> tuple[str, str]:
    limits = {k: v for k, v in figures.items() if any(t in k for t in ("threshold", "min_", "max_", "limit"))}
    seen = {k: v for k, v in figures.items() if k not in limits}
    return (", ".join(f"{k}={v}" for k, v in seen.items()) or "-",
            ", ".join(f"{k}={v}" for k, v in limits.items()) or "-")


def signal_rows(case: Case, with_time: bool = True) -> list[dict[str, Any]]:
    """Signals of a case as the notification templates expect them."""
    rows = []
    for h in case.hits:
        figure, threshold = _figures(dict(h.signal.figures))
        row = {"rule_id": h.rule_id, "description": h.signal.why, "figure": figure, "threshold": threshold}
        if with_time:
            row["observed_at"] = case.first_signal_at.isoformat()
        rows.append(row)
    return rows


def action_rows(case: Case) -> list[dict[str, Any]]:
    return [{"at": e.at.isoformat(), "action": e.text, "result": f"by {e.by}"}
            for e in case.timeline if e.kind.value in ("action", "outcome")]


async def send_alert(ctx: AppContext, fs: FraudStores, rec: CaseRecord, key: str, now: datetime) -> bool:
    """Tell the partner's team (webhook if configured, else e-mail to the collections contact), once per key."""
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
        "exposure": _exposure_text(ctx, case.customer_id, at_risk, now),
        "case_id": case.case_id, "signals": signal_rows(case, with_time=False), "actions": action_rows(case),
        "recommended_actions": steps,
    }
    note = team_notification(settings, key, TemplateId.TEAM_FRAUD_ALERT, context)
    try:
        ran, _ = await ctx.idempotency.run_once_async("fraud-alert", key, lambda: asyncio.to_thread(
            lambda: ctx.notifier.send(note).model_dump(mode="json")))
    except DeliveryError as exc:  # the case stands; the alert is audited as failed and retried on the next change
        log.warning("fraud alert %s not delivered: %s", key, exc)
        _audit(ctx, case.customer_id, "fraud.alert", SYSTEM_ACTOR, f"not delivered: {exc}", case.case_id,
               {"key": key}, outcome="failed")
        return False
    if ran:
        fs.cases.update(case.customer_id, CURRENT, lambda cur: cur.model_copy(
            update={"alerts": [*cur.alerts, key]}) if cur and cur.case.case_id == case.case_id else None)
    return bool(ran)


def _exposure_text(ctx: AppContext, customer_id: str, at_risk: Any, now: datetime) -> str:
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


def _audit(ctx: AppContext, customer_id: str, action: str, actor: str, reason: str, case_id: str,
           evidence: dict[str, Any], outcome: str = "ok") -> None:
    ctx.audit.record(AuditEntry(customer_id=customer_id, action=action, actor=actor, reason=reason,
                                outcome=outcome, evidence={"case_id": case_id, **evidence}))
