"""The enforcement worker: suspend and reactivate subscriptions in Partner Center, safely.

Before a non-payment suspension it re-checks everything (payment feed freshness, a fresh evaluation of
the ledger) because suspending a paying customer is the worst failure this product can have. Every
request runs at most once per business key, is verified by reading the subscription back, and is
recorded (which subscriptions csp-guard suspended, why, by whom) in the suspensions table and audit log.
Reactivation touches only subscriptions csp-guard itself suspended, parents before add-ons.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from shared.messaging import Queue
from shared.partner_center import PartnerCenterError, ServerError, Throttled, TransportError
from shared.services.collections import decide
from shared.services.messages import CollectionsNotice, EnforcementRequest
from shared.services.payments import feed_age_hours
from shared.services.state import Stores, SuspensionRecord
from shared.services.subscriptions import describe, select
from shared.storage.audit import AuditEntry
from shared.storage.idempotency import Claim

if TYPE_CHECKING:
    from shared.context import AppContext

log = logging.getLogger("cspguard.enforcement")
TRANSIENT = (ServerError, Throttled, TransportError)


class Outcome(BaseModel):
    """What one enforcement request did (returned, audited, and shown to operators)."""

    key: str
    status: Literal["done", "partial", "failed", "skipped", "blocked", "dry_run", "duplicate"]
    detail: str
    changed: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)
    lifted_nonpayment: bool = False


def _base_key(key: str) -> str:
    return key.rsplit(":g", 1)[0]


def precheck(ctx: AppContext, stores: Stores, req: EnforcementRequest, now: datetime) -> Outcome | None:
    """Reasons not to act now, or None. Non-payment suspensions need fresh data and a still-due decision."""
    settings = ctx.settings
    if req.action == "suspend" and req.reason == "nonpayment":
        age = feed_age_hours(stores, now)
        if age is None or age > settings.payment_feed_max_silence_hours:
            seen = "never received" if age is None else f"silent for {age:.1f} h"
            return Outcome(key=req.key, status="blocked",
                           detail=f"payment feed {seen} (limit {settings.payment_feed_max_silence_hours} h): "
                                  "not suspending on stale data")
        from shared.services.deadletters import blocking

        parked = blocking(ctx, req.customer_id)  # poison queues drained first: every kept message counts
        if parked:
            where = ", ".join(sorted({f"{d.queue} ({d.origin.value})" for d in parked}))
            return Outcome(key=req.key, status="blocked",
                           detail=f"{len(parked)} message(s) naming this customer could not be processed and wait in "
                                  f"the dead-letter store ({where}): not suspending until an operator replays or "
                                  "discards them")
        decision = decide(stores, settings, req.customer_id, now)
        due = decision is not None and any(
            a.kind == "suspend" and a.key == _base_key(req.key) for a in decision.actions)
        if not due:
            why = "; ".join(r.text for r in (decision.blocked_by if decision else ())) or "no suspension stage applies"
            return Outcome(key=req.key, status="skipped", detail=f"no longer due on fresh data: {why}")
    if req.reason == "fraud" or (req.action == "reactivate" and req.reason == "nonpayment"):
        from shared.services.fraud.store import FraudStores

        fraud = FraudStores(ctx.tables).current(req.customer_id)
        open_case = fraud is not None and fraud.case.is_open
        if req.action == "suspend" and (not open_case or fraud is None or fraud.case.case_id != req.case_id):
            return Outcome(key=req.key, status="skipped", detail=f"fraud case {req.case_id} is no longer open")
        if req.reason == "nonpayment" and open_case and fraud is not None and fraud.containment_keys:
            return Outcome(key=req.key, status="skipped",
                           detail=f"fraud case {fraud.case.case_id} is open with containment: no reactivation "
                                  "until it is resolved")
    if req.action == "reactivate" and req.reason == "nonpayment" and req.actor.startswith("csp-guard"):
        decision = decide(stores, settings, req.customer_id, now)
        if decision is not None and decision.suspends:
            return Outcome(key=req.key, status="skipped", detail="a suspension stage still applies")
    if not settings.enforcement_enabled:
        return Outcome(key=req.key, status="dry_run",
                       detail=f"would {req.action} ({req.detail}); CSPGUARD_ENFORCEMENT_ENABLED is false")
    return None


def _record(req: EnforcementRequest, sub_id: str, now: datetime, name: str, *, is_addon: bool = False,
            parent: str | None = None) -> SuspensionRecord:
    return SuspensionRecord(customer_id=req.customer_id, subscription_id=sub_id, reason=req.reason,
                            detail=req.detail, action_key=req.key, suspended_at=now, suspended_by=req.actor,
                            case_id=req.case_id, is_addon=is_addon, parent_subscription_id=parent, name=name)


async def _suspend(ctx: AppContext, stores: Stores, req: EnforcementRequest, now: datetime) -> Outcome:
    pc = ctx.partner_center()
    subs = await pc.list_subscriptions(req.customer_id)
    targets = select(subs, req.scope, req.subscription_ids)
    names = {s.id: describe(s)["name"] for s in subs}
    out = Outcome(key=req.key, status="done", detail=req.detail)
    if req.reason != "nonpayment":
        await asyncio.to_thread(_retag, stores, req, subs, now)
    for sub in targets:
        # recorded BEFORE the change: a crash after Partner Center suspends it can never leave a suspension
        # that csp-guard does not know it made (and so would never lift)
        await asyncio.to_thread(stores.suspensions.upsert, req.customer_id, sub.id,
                                _record(req, sub.id, now, names[sub.id]))
        try:
            results = await pc.suspend(req.customer_id, sub.id)
        except TRANSIENT:
            raise
        except PartnerCenterError as exc:
            await asyncio.to_thread(stores.suspensions.delete, req.customer_id, sub.id)
            out.failed[sub.id] = f"{type(exc).__name__} {exc.code}: {exc.description}"
            continue
        for r in results:
            parent = r.subscription_id == sub.id
            if not r.ok or not r.changed:
                if parent:  # refused, or someone else suspended it first: not csp-guard's suspension
                    await asyncio.to_thread(stores.suspensions.delete, req.customer_id, sub.id)
                if not r.ok:
                    out.failed[r.subscription_id] = f"read back {r.after}, expected {r.target}"
                continue
            if not parent:
                await asyncio.to_thread(stores.suspensions.upsert, req.customer_id, r.subscription_id, _record(
                    req, r.subscription_id, now, names.get(r.subscription_id, r.subscription_id),
                    is_addon=True, parent=sub.id))
            out.changed.append(r.subscription_id)
    if out.failed:
        out.status = "partial" if out.changed else "failed"
    if not targets:
        out.status, out.detail = "skipped", f"no active subscription in scope ({req.detail})"
    return out


def _retag(stores: Stores, req: EnforcementRequest, subs: list[Any], now: datetime) -> None:
    """A fraud or manual suspension of a subscription csp-guard already suspended for non-payment takes over
    its record, so a payment can no longer lift it."""
    wanted = set(req.subscription_ids) or {s.id for s in select(
        [s.model_copy(update={"status": "active"}) for s in subs], req.scope)}
    for record in stores.suspended_by_us(req.customer_id):
        if record.subscription_id in wanted and record.reason == "nonpayment":
            stores.suspensions.upsert(req.customer_id, record.subscription_id,
                                      _record(req, record.subscription_id, now, record.name,
                                              is_addon=record.is_addon, parent=record.parent_subscription_id))


async def _reactivate(ctx: AppContext, stores: Stores, req: EnforcementRequest) -> Outcome:
    pc = ctx.partner_center()
    def mine(r: SuspensionRecord) -> bool:
        if req.reason == "fraud":  # a case lifts only its own containment
            return r.reason == "fraud" and r.case_id == req.case_id and (
                not req.subscription_ids or r.subscription_id in req.subscription_ids)
        if r.reason == "fraud":  # never lifted by a payment or a manual action: only by resolving its case
            return False
        return r.subscription_id in req.subscription_ids if req.subscription_ids else r.reason == req.reason

    records = [r for r in await asyncio.to_thread(stores.suspended_by_us, req.customer_id) if mine(r)]
    records.sort(key=lambda r: r.is_addon)  # parents first: add-ons refuse while the parent is suspended
    out = Outcome(key=req.key, status="done", detail=req.detail)
    for rec in records:
        try:
            results = await pc.reactivate(req.customer_id, rec.subscription_id, include_addons=False)
        except TRANSIENT:
            raise
        except PartnerCenterError as exc:
            out.failed[rec.subscription_id] = f"{type(exc).__name__} {exc.code}: {exc.description}"
            continue
        if results and results[0].ok:
            await asyncio.to_thread(stores.suspensions.delete, req.customer_id, rec.subscription_id)
            out.changed.append(rec.subscription_id)
            out.lifted_nonpayment = out.lifted_nonpayment or rec.reason == "nonpayment"
        else:
            out.failed[rec.subscription_id] = "read back did not show active"
    if out.failed:
        out.status = "partial" if out.changed else "failed"
    if not records:
        out.status, out.detail = "skipped", "nothing csp-guard suspended for this reason"
    return out


async def execute(ctx: AppContext, req: EnforcementRequest, *, now: datetime | None = None,
                  correlation_id: str = "") -> Outcome:
    """Run one enforcement request at most once; transient Partner Center errors propagate (retry).

    Only a request that fully succeeded is remembered as done: a failed, partial or skipped one releases its
    key, so the next sweep, payment or operator request with the same key tries again.
    """
    now = now or datetime.now(UTC)
    stores = ctx.stores
    # storage calls are synchronous: run them in threads so this async invocation never blocks the event loop
    early = await asyncio.to_thread(precheck, ctx, stores, req, now)
    if early is not None and await asyncio.to_thread(ctx.idempotency.status, "enforcement", req.key) is None:
        await asyncio.to_thread(_audit, ctx, req, early, now, correlation_id)
        if early.status == "blocked":
            await asyncio.to_thread(_alert_team, ctx, req, early)
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
            outcome = await _suspend(ctx, stores, req, now)
        else:
            owed = await late_suspension_audits(ctx, req, before)
            outcome = await _reactivate(ctx, stores, req)
            for entry in owed:  # suspensions whose own attempt died unaudited, now lifted: record that they happened
                if entry.evidence["changed"][0] in outcome.changed:
                    await asyncio.to_thread(ctx.audit.record, entry)
        if claim.taken_over:
            outcome = await finish_takeover(ctx, stores, req, outcome, claim)
        return outcome.model_dump()

    # a redelivery takes over the stale claim of an attempt that died (crash, storage outage) and finishes it
    ran, result, _ = await ctx.idempotency.attempt_async("enforcement", req.key, work,
                                                         keep=lambda r: r["status"] == "done")
    outcome = Outcome.model_validate(result)
    if not ran:
        # done before; but if that attempt died (or storage failed) between recording the result and its follow-ups,
        # the audit, the case and the notice are still owed: finish them now, once
        if not await asyncio.to_thread(ctx.idempotency.followed_up, "enforcement", req.key):
            await asyncio.to_thread(_after, ctx, stores, req, outcome, now, correlation_id)
            await asyncio.to_thread(ctx.idempotency.mark_followed_up, "enforcement", req.key)
            return outcome
        return outcome.model_copy(update={"status": "duplicate"})
    await asyncio.to_thread(_after, ctx, stores, req, outcome, now, correlation_id)
    if outcome.status == "done":
        await asyncio.to_thread(ctx.idempotency.mark_followed_up, "enforcement", req.key)
    return outcome


def _after(ctx: AppContext, stores: Stores, req: EnforcementRequest, out: Outcome, now: datetime,
           correlation_id: str) -> None:
    _audit(ctx, req, out, now, correlation_id)
    if out.failed:
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
                                   case_id=req.case_id, reason=req.detail)
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
        r.action == "reactivate" for r in dispatch(ctx, stores, decision, now, allow_suspend=False,
                                                   actor=req.actor, correlation_id=correlation_id or None).enforcement)
    if not undone:
        for notice in req.then_notify:
            ctx.producer.send(Queue.NOTIFICATIONS, notice.envelope(correlation_id or None))


def _audit(ctx: AppContext, req: EnforcementRequest, out: Outcome, now: datetime, correlation_id: str) -> None:
    from shared.observability import metrics

    metrics().action(req.action, out.status)
    if out.status in ("failed", "partial", "blocked"):
        metrics().failure("enforcement", out.status)
    ctx.audit.record(AuditEntry(
        customer_id=req.customer_id, action=req.action, actor=req.actor, reason=f"{req.reason}: {req.detail}",
        at=now, correlation_id=correlation_id, outcome=out.status,
        evidence={"key": req.key, "case_id": req.case_id, "stage_id": req.stage_id, "run_id": req.run_id,
                  "changed": out.changed, "failed": out.failed, "detail": out.detail,
                  "scope": req.scope.model_dump() if req.scope else None}))


def _alert_team(ctx: AppContext, req: EnforcementRequest, out: Outcome) -> None:
    notice = CollectionsNotice(customer_id=req.customer_id, key=f"{req.key}:alert:{out.status}",
                               stage_id=req.stage_id or req.action, template="team_action_failed",
                               case_id=req.case_id, audience="team",
                               reason=f"{req.action} {out.status}: {out.detail} {out.failed or ''}".strip())
    ctx.producer.send(Queue.NOTIFICATIONS, notice.envelope())
