"""Approvals: a person approves or rejects what csp-guard asked about (a suspension of a customer whose
segment needs approval, a halted sweep run). Four eyes: nobody approves their own request. An approved
suspension runs through the normal checks exactly once (its key is unchanged)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from shared.clock import utcnow
from shared.collections import Approval
from shared.collections.keys import ActionKey
from shared.services.collections import decide, dispatch
from shared.services.errors import ConflictError, ForbiddenError, NotFoundError
from shared.services.state import ApprovalRequest, CollectionsState
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.ports import Ports


def list_approvals(ctx: Ports, status: Literal["pending", "decided"] = "pending") -> list[ApprovalRequest]:
    return sorted(ctx.stores.approvals.partition(status), key=lambda a: a.requested_at)


def decide_approval(ctx: Ports, key: str, approve: bool, actor: str, note: str = "",
                    now: datetime | None = None) -> ApprovalRequest:
    """Approve or reject a pending action. Approval records the approver on the case and re-evaluates, so
    the action runs through the normal checks exactly once (its key is unchanged)."""
    now = now or utcnow()
    stores = ctx.stores
    if approve:
        _four_eyes(stores.approvals.get("pending", key), actor)
    run_id = _run_of(key)
    if run_id is not None:
        from shared.services.sweep import decide_run

        decide_run(ctx, run_id, actor, approve, note, now)  # NotFoundError / ConflictError (already decided)
        found = stores.approvals.get("decided", key)
        if found is None:
            raise NotFoundError(f"no approval {key}")
        return found
    request = stores.approvals.get("pending", key)
    if request is None:
        if stores.approvals.get("decided", key) is not None:
            raise ConflictError(f"approval {key} was already decided")
        raise NotFoundError(f"no pending approval {key}")
    decided = request.model_copy(update={"status": "approved" if approve else "rejected", "decided_by": actor,
                                         "decided_at": now, "note": note})
    stores.approvals.put("decided", key, decided)  # ConcurrencyConflict if decided concurrently
    stores.approvals.delete("pending", key)
    ctx.audit.record(AuditEntry(customer_id=request.customer_id, action=f"approval.{decided.status}", actor=actor,
                                reason=note or request.why, at=now, evidence={"key": key}))
    if approve and request.action is not None and request.action.stage_id:
        approval = Approval(stage_id=request.action.stage_id, approver=actor, approved_at=now)

        def add(state: CollectionsState | None) -> CollectionsState | None:
            if state is None or state.case is None:
                return None
            case = state.case.model_copy(update={"approvals": (*state.case.approvals, approval)})
            return state.model_copy(update={"case": case})

        stores.cases.update(request.customer_id, "collections", add)
        decision = decide(stores, ctx.settings, request.customer_id, now)
        if decision is not None:
            dispatch(ctx, decision, now, allow_suspend=True, actor=actor)
    return decided


def _run_of(key: str) -> str | None:
    """The sweep run an approval key names (a halted run waits for a person), or None."""
    try:
        parsed = ActionKey.parse(key)
    except ValueError:
        return None
    return parsed.run_id if parsed.kind == "run" else None


def _four_eyes(request: ApprovalRequest | None, actor: str) -> None:
    """Nobody approves their own request (rejecting it is fine)."""
    if request is not None and request.requested_by and request.requested_by == actor:
        raise ForbiddenError(f"{actor} asked for {request.key}: a second person must approve it (four eyes)")
