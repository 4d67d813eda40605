"""A scan's assessment taken in: open or update the customer's one case, plan its containment (asking a person
when the rule says so) and alert the team on a new case or a raised outcome."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.fraud import Assessment, CaseChange, Outcome, open_or_update
from shared.services.fraud.alerting import send_alert
from shared.services.fraud.cases import SYSTEM_ACTOR, archive_if_closed, audit_case
from shared.services.fraud.containment import ask_approval, contain, exclude, replan_due, scan_requester
from shared.services.fraud.store import CURRENT, CaseRecord
from shared.services.fraud.targets import resolve_targets

if TYPE_CHECKING:
    from shared.ports import Ports


class CaseEffects(BaseModel):
    """What applying one assessment did (counted in the scan run)."""

    case_id: str | None = None
    opened: bool = False
    updated: bool = False
    contained: bool = False
    pending_approval: bool = False
    alerted: bool = False


async def apply_assessment(ctx: Ports, a: Assessment, now: datetime,
                           customer_name: str = "", run_id: str = "") -> CaseEffects:
    """Open or update the customer's case from an assessment and act on its outcome."""
    fs = ctx.fraud
    if a.outcome is Outcome.ALLOW and a.listed != "block":
        return CaseEffects()
    archive_if_closed(fs, a.customer_id)
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
        audit_case(ctx, a.customer_id, "fraud.case." + ("opened" if effects.opened else "updated"), SYSTEM_ACTOR,
                   "; ".join(c.detail for c in changes), rec.case.case_id,
                   {"run_id": run_id, "outcome": rec.case.outcome})
    # containment is re-planned on every scan while the case is open (targets already contained or in flight
    # are skipped), so a scan that died after opening the case cannot leave it uncontained, and a containment
    # Partner Center refused is retried on the next scans (bounded; an operator can always retry)
    if rec.case.outcome is Outcome.CONTAIN and rec.case.is_open and replan_due(rec, now):
        plan = await resolve_targets(ctx, rec.case, exclude(rec, now))
        approved = set(rec.case.containment.targets)  # asked for before (approved then): a retry needs no new yes
        if plan.labels and plan.requires_approval and not set(plan.labels) <= approved:
            effects.pending_approval = ask_approval(fs, a.customer_id, list(plan.labels),
                                                    plan.scope != "affected", plan.reasons, now,
                                                    scan_requester(fs, run_id))
        elif plan.labels:
            await contain(ctx, a.customer_id, SYSTEM_ACTOR, now, targets=plan.labels)
            effects.contained = True
    if kinds & {"opened", "outcome_raised"} or effects.pending_approval:
        current = fs.current(a.customer_id) or rec
        key = f"fraud:{current.case.case_id}:alert:{current.case.outcome.value}:{len(current.case.hits)}"
        effects.alerted = await send_alert(ctx, current, key, now)
    return effects
