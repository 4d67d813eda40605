"""Case services: a case's errors and audit, the suspensions read back onto it, notes and the resolution.

Containment (``containment``) and alerts (``alerting``) build on this module; turning a scan's assessment into
a case is ``intake``. The case learns which subscriptions were actually suspended by reading the enforcement
worker's records back (``sync_suspensions``), never from what it asked for.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from shared.clock import utcnow
from shared.fraud import CaseError, record_containment
from shared.fraud import add_note as case_add_note
from shared.fraud import resolve as case_resolve
from shared.messaging import Queue
from shared.services.errors import ConflictError, NotFoundError
from shared.services.fraud.store import CURRENT, CaseRecord, FraudStores
from shared.services.fraud.targets import split_labels
from shared.services.messages import EnforcementRequest
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.ports import Ports

SYSTEM_ACTOR = "csp-guard:fraud"


class CaseNotFound(NotFoundError):
    """No fraud case for this customer."""


class CaseConflict(ConflictError):
    """The case's state does not allow this (resolved already, nothing pending...)."""


def archive_if_closed(fs: FraudStores, customer_id: str) -> None:
    """Before a new incident replaces a resolved case in the ``current`` row, keep the old one."""
    rec = fs.current(customer_id)
    if rec is not None and not rec.case.is_open:
        fs.cases.upsert(customer_id, rec.case.case_id, rec)


def sync_suspensions(ctx: Ports, customer_id: str) -> CaseRecord | None:
    """Record on the case the suspensions the enforcement worker actually carried out for it."""
    fs = ctx.fraud
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


def resolve_case(ctx: Ports, customer_id: str, label: Literal["legitimate", "fraud"],
                 by: str, note: str = "", now: datetime | None = None,
                 suppress_days: int = 0) -> tuple[CaseRecord, EnforcementRequest | None]:
    """Close the case with its label; legitimate reactivates every subscription this case suspended."""
    fs = ctx.fraud
    now = now or utcnow()
    rec = sync_suspensions(ctx, customer_id)
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
    audit_case(ctx, customer_id, "fraud.resolve", by, f"resolved as {label}" + (f": {note}" if note else ""), case_id,
               {"reactivate": list(subs)})
    return updated, request


def add_note(ctx: Ports, customer_id: str, text: str, by: str,
             now: datetime | None = None) -> CaseRecord:
    fs = ctx.fraud
    now = now or utcnow()
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


def audit_case(ctx: Ports, customer_id: str, action: str, actor: str, reason: str, case_id: str,
               evidence: dict[str, Any], outcome: str = "ok") -> None:
    ctx.audit.record(AuditEntry(customer_id=customer_id, action=action, actor=actor, reason=reason,
                                outcome=outcome, evidence={"case_id": case_id, **evidence}))


def list_cases(ctx: Ports, status: str | None = None) -> list[CaseRecord]:
    """Every customer's current case, newest change first: the open ones (open or investigating) by default,
    ``all``, ``resolved`` (either label) or those in one ``CaseStatus``."""
    records = ctx.fraud.all_current()
    if status is None:
        records = [r for r in records if r.case.is_open]
    elif status == "resolved":
        records = [r for r in records if not r.case.is_open]
    elif status != "all":
        records = [r for r in records if r.case.status.value == status]
    return sorted(records, key=lambda r: r.case.updated_at, reverse=True)
