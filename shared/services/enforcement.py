"""The enforcement worker: suspend and reactivate subscriptions in Partner Center, safely.

Before a non-payment suspension it re-checks everything (payment feed freshness, a fresh evaluation of
the ledger: ``enforcement_checks``) because suspending a paying customer is the worst failure this product
can have. Every request runs at most once per business key, is verified by reading the subscription back,
and is recorded (which subscriptions csp-guard suspended, why, by whom) in the suspensions table and audit
log (``enforcement_followups``). Reactivation touches only subscriptions csp-guard itself suspended,
parents before add-ons.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from datetime import datetime
from itertools import groupby
from typing import TYPE_CHECKING, Any

from shared.clock import utcnow
from shared.services.enforcement_checks import Outcome, precheck
from shared.services.enforcement_followups import after, audit, fraud_outcome
from shared.services.enforcement_steps import (
    TRANSIENT,
    TargetState,
    disable_entitlement,
    reactivate_record,
    suspend_subscription,
)
from shared.services.enforcement_targets import SuspendPlan, plan_suspension
from shared.services.messages import EnforcementRequest
from shared.services.state import Stores, SuspensionRecord, target_label
from shared.services.subscriptions import select
from shared.storage.idempotency import Claim

if TYPE_CHECKING:
    from shared.ports import Ports

log = logging.getLogger("cspguard.enforcement")
__all__ = ["TRANSIENT", "Outcome", "execute", "precheck"]


async def _suspend(ctx: Ports, req: EnforcementRequest, now: datetime) -> Outcome:
    stores = ctx.stores
    pc = ctx.partner_center()
    subs = await pc.list_subscriptions(req.customer_id)
    held = {r.label for r in await asyncio.to_thread(stores.suspended_by_us, req.customer_id)}
    plan = await plan_suspension(pc, req, subs, held)
    if req.reason != "nonpayment":
        await asyncio.to_thread(_retag, stores, req, subs, plan, now)
    states: list[TargetState] = [TargetState(target=m, kind="azure_subscription" if "/" in m else "subscription",
                                             status="not found", verified=False, held=False,
                                             error="Partner Center does not show it for this customer")
                                 for m in plan.missing]
    for sub in plan.patch:
        states += await suspend_subscription(pc, stores, req, sub, plan.names[sub.id], now)
    # Azure subscriptions side by side: each cancel is asynchronous and polled (paced and bounded by the client)
    states += await _together(disable_entitlement(pc, stores, ctx.settings, req, plan_id, ent, now,
                                                  held_before=target_label(plan_id, ent.id) in held)
                              for plan_id, ents in plan.azure.items() for ent in ents)
    for sub in plan.plans:  # the plan itself last, and only once nothing under it is active
        still = [e for e in await pc.list_azure_entitlements(req.customer_id, sub.id) if not e.is_off]
        if still:
            states.append(TargetState(target=sub.id, kind="subscription", name=plan.names[sub.id], status="active",
                                      verified=False, held=False,
                                      error=f"plan not suspended: {len(still)} Azure subscription(s) under it still "
                                            "active (Partner Center refuses with 900115)"))
        else:
            states += await suspend_subscription(pc, stores, req, sub, plan.names[sub.id], now,
                                                 include_addons=False)
    if plan.empty:
        return Outcome(key=req.key, status="skipped", detail=f"no active subscription in scope ({req.detail})")
    return _outcome(req, states)


def _outcome(req: EnforcementRequest, states: list[TargetState]) -> Outcome:
    out = Outcome(key=req.key, status="done", detail=req.detail, targets=states,
                  changed=[t.target for t in states if t.changed],
                  failed={t.target: t.error or f"Partner Center shows {t.status}" for t in states if not t.verified})
    if out.failed:
        out.status = "partial" if any(t.verified for t in states) else "failed"
    return out


def _retag(stores: Stores, req: EnforcementRequest, subs: list[Any], plan: SuspendPlan, now: datetime) -> None:
    """A fraud or manual suspension of something csp-guard already suspended for non-payment takes over its
    record, so a payment can no longer lift it."""
    wanted = plan.labels | set(req.subscription_ids) | {target_label(t.plan_subscription_id, t.entitlement_id)
                                                        for t in req.entitlements}
    if not req.subscription_ids and not req.entitlements:
        wanted |= {s.id for s in select([s.model_copy(update={"status": "active"}) for s in subs], req.scope)}
    for record in stores.suspended_by_us(req.customer_id):
        under_plan = record.entitlement_id is not None and record.subscription_id in wanted and not req.entitlements
        if record.reason == "nonpayment" and (record.label in wanted or under_plan):
            stores.suspensions.upsert(req.customer_id, record.row, record.model_copy(update={
                "reason": req.reason, "detail": req.detail, "action_key": req.key, "suspended_at": now,
                "suspended_by": req.actor, "case_id": req.case_id}))


async def _together(steps: Iterable[Coroutine[Any, Any, TargetState]]) -> list[TargetState]:
    """Run steps side by side, results in order; the first error propagates as itself (a transient one is
    retried by the queue), and the other steps are cancelled (their records stay; the retry reads them back)."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(step) for step in steps]
    except ExceptionGroup as errors:
        raise errors.exceptions[0] from None
    return [t.result() for t in tasks]


def _reactivation_order(r: SuspensionRecord) -> tuple[bool, bool]:
    """Plans and base subscriptions first (a suspended plan refuses changes to its Azure subscriptions: 800091;
    an add-on refuses while its parent is suspended: 27009), then Azure subscriptions, then add-ons."""
    return r.is_addon, r.entitlement_id is not None


async def _reactivate(ctx: Ports, req: EnforcementRequest) -> Outcome:
    stores = ctx.stores
    pc = ctx.partner_center()
    wanted = set(req.subscription_ids) | {target_label(t.plan_subscription_id, t.entitlement_id)
                                          for t in req.entitlements}

    def named(r: SuspensionRecord) -> bool:
        return not wanted or r.subscription_id in wanted or r.label in wanted

    def mine(r: SuspensionRecord) -> bool:
        if req.reason == "fraud":  # a case lifts only its own containment
            return r.reason == "fraud" and r.case_id == req.case_id and named(r)
        if r.reason == "fraud":  # never lifted by a payment or a manual action: only by resolving its case
            return False
        return named(r) if wanted else r.reason == req.reason

    records = [r for r in await asyncio.to_thread(stores.suspended_by_us, req.customer_id) if mine(r)]
    if not records:
        return Outcome(key=req.key, status="skipped", detail="nothing csp-guard suspended for this reason")
    states = []
    for _, tier in groupby(sorted(records, key=_reactivation_order), key=_reactivation_order):
        states += await _together(reactivate_record(pc, stores, ctx.settings, rec) for rec in tier)  # tier by tier
    out = _outcome(req, states)
    lifted = {t.target for t in states if t.verified}
    out.lifted_nonpayment = any(r.reason == "nonpayment" and r.label in lifted for r in records)
    out.changed = sorted(lifted)
    return out


async def execute(ctx: Ports, req: EnforcementRequest, *, now: datetime | None = None,
                  correlation_id: str = "") -> Outcome:
    """Run one enforcement request at most once; transient Partner Center errors propagate (retry).

    Only a request that fully succeeded is remembered as done: a failed, partial or skipped one releases its
    key, so the next sweep, payment or operator request with the same key tries again.
    """
    now = now or utcnow()
    stores = ctx.stores
    # storage calls are synchronous: run them in threads so this async invocation never blocks the event loop
    early = await asyncio.to_thread(precheck, ctx, req, now)
    if early is not None and await asyncio.to_thread(ctx.idempotency.status, "enforcement", req.key) is None:
        await asyncio.to_thread(audit, ctx, req, early, now, correlation_id)
        if req.reason == "fraud" and req.action == "suspend":  # the case shows that nothing was contained, and why
            await asyncio.to_thread(fraud_outcome, ctx, req, early, now)
        elif early.status == "blocked":  # csp-guard chose not to act: say why, never "FAILED"
            from shared.services.alerts import AlertKind, send_alert

            await asyncio.to_thread(send_alert, ctx, AlertKind.ENFORCEMENT_BLOCKED, req.key,
                                    f"{req.action} blocked: {early.detail}", req.customer_id)
        return early
    # else an earlier attempt of this request started (it may have acted): settle what it did before anything else

    async def work(claim: Claim) -> dict[str, Any]:
        from shared.services.recovery import finish_takeover, late_suspension_audits, plan_of

        before = await asyncio.to_thread(stores.suspended_by_us, req.customer_id)
        if not claim.taken_over:  # what csp-guard had recorded before this attempt: a takeover compares with it
            await asyncio.to_thread(ctx.idempotency.note_plan, claim, plan_of(before))
        if early is not None:  # nothing new is done: only what a dead attempt did is settled below
            outcome = early
        elif req.action == "suspend":
            outcome = await _suspend(ctx, req, now)
        else:
            owed = await late_suspension_audits(ctx, req, before)
            outcome = await _reactivate(ctx, req)
            for entry in owed:  # suspensions whose own attempt died unaudited, now lifted: record that they happened
                if entry.evidence["changed"][0] in outcome.changed:
                    await asyncio.to_thread(ctx.audit.record, entry)
        if claim.taken_over:
            outcome = await finish_takeover(ctx, req, outcome, claim)
        return outcome.model_dump()

    # a redelivery takes over the stale claim of an attempt that died (crash, storage outage) and finishes it
    ran, result, _ = await ctx.idempotency.attempt_async("enforcement", req.key, work,
                                                         keep=lambda r: r["status"] == "done")
    outcome = Outcome.model_validate(result)
    if not ran:
        # done before; but if that attempt died (or storage failed) between recording the result and its follow-ups,
        # the audit, the case and the notice are still owed: finish them now, once
        if not await asyncio.to_thread(ctx.idempotency.followed_up, "enforcement", req.key):
            await asyncio.to_thread(after, ctx, req, outcome, now, correlation_id)
            await asyncio.to_thread(ctx.idempotency.mark_followed_up, "enforcement", req.key)
            return outcome
        return outcome.model_copy(update={"status": "duplicate"})
    await asyncio.to_thread(after, ctx, req, outcome, now, correlation_id)
    if outcome.status == "done":
        await asyncio.to_thread(ctx.idempotency.mark_followed_up, "enforcement", req.key)
    return outcome
