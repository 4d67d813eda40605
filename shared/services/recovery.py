"""Finishing what an enforcement attempt that died (crash, storage outage) left half done.

The enforcement wrapper notes, before working, which subscriptions csp-guard had recorded as suspended (the claim's
plan). An attempt that takes a stale claim over reads Partner Center and counts what the dead attempt changed, so
its audit, case and notice state what is true; a reactivation that lifts a suspension whose own attempt died before
its audit records that suspension first.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from shared.storage.audit import AuditEntry
from shared.storage.idempotency import RecordStatus

if TYPE_CHECKING:
    from shared.ports import Ports
    from shared.services.enforcement import Outcome
    from shared.services.messages import EnforcementRequest
    from shared.services.state import SuspensionRecord
    from shared.storage.idempotency import Claim


def plan_of(records: list[SuspensionRecord]) -> dict[str, Any]:
    """What a takeover needs to know of the state before the first attempt: the recorded subscriptions."""
    return {"recorded": [r.subscription_id for r in records if r.entitlement_id is None]}


async def finish_takeover(ctx: Ports, req: EnforcementRequest, out: Outcome,
                          claim: Claim) -> Outcome:
    """After taking over a dead attempt's claim: count what that attempt already changed (verified by reading
    Partner Center now), and drop records of subscriptions it recorded but never changed."""
    stores = ctx.stores
    subs = {s.id: s.status.value for s in await ctx.partner_center().list_subscriptions(req.customer_id)}
    records = await asyncio.to_thread(stores.suspended_by_us, req.customer_id)
    changed, failed = list(out.changed), dict(out.failed)
    lifted = out.lifted_nonpayment
    if req.action == "suspend":
        for rec in records:
            if rec.action_key != req.key or rec.entitlement_id is not None or rec.subscription_id in changed:
                continue
            status = subs.get(rec.subscription_id)
            if status == "suspended":
                changed.append(rec.subscription_id)  # suspended by the attempt that died: its follow-ups are owed
            elif rec.subscription_id not in failed:  # recorded before the call, never suspended: not ours
                await asyncio.to_thread(stores.suspensions.delete, req.customer_id, rec.subscription_id)
    else:
        still = {r.subscription_id for r in records}
        before = set((claim.plan or {}).get("recorded", []))
        for sub_id in sorted(before - still - set(changed)):
            if subs.get(sub_id) == "active":  # reactivated (and its record removed) by the attempt that died
                changed.append(sub_id)
                lifted = lifted or req.reason == "nonpayment"
    if changed == out.changed:
        return out
    status = out.status if out.status not in ("skipped", "failed", "blocked") else ("partial" if failed else "done")
    return out.model_copy(update={"changed": changed, "status": status, "lifted_nonpayment": lifted,
                                  "detail": f"{out.detail} (finished after the previous attempt died: "
                                            f"{len(changed) - len(out.changed)} change(s) it made, verified)"})


async def late_suspension_audits(ctx: Ports, req: EnforcementRequest,
                                 records: list[SuspensionRecord]) -> list[AuditEntry]:
    """Audit entries owed for suspensions this reactivation may lift whose own request never completed (it died
    after Partner Center suspended them): only those Partner Center shows suspended now."""
    unsettled = [r for r in records if r.entitlement_id is None and r.action_key != req.key and await asyncio.to_thread(
        ctx.idempotency.status, "enforcement", r.action_key) is not RecordStatus.COMPLETED]
    if not unsettled:
        return []
    subs = {s.id: s.status.value for s in await ctx.partner_center().list_subscriptions(req.customer_id)}
    return [AuditEntry(customer_id=r.customer_id, action="suspend", actor=r.suspended_by, at=r.suspended_at,
                       reason=f"{r.reason}: {r.detail}", outcome="done",
                       evidence={"key": r.action_key, "case_id": r.case_id, "changed": [r.subscription_id],
                                 "failed": {}, "detail": "audited when lifted: the attempt that suspended it died "
                                                         "before its audit"})
            for r in unsettled if subs.get(r.subscription_id) == "suspended"]
