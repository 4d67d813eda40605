"""The collections sweep: fan out over the portfolio in shards, then release suspensions in one guarded step.

timer -> start_sweep: one SweepShard message per ``CSPGUARD_SWEEP_SHARD_SIZE`` customers
shard -> process_shard: evaluate each customer; notices and reactivations go out at once; suspensions are
         only *planned* and stored with the shard's result
last shard -> finalize: if the run would suspend more customers than CSPGUARD_MAX_SUSPENSIONS_PER_RUN or
         more than CSPGUARD_MAX_SUSPENSION_SHARE of the portfolio, the run halts and asks a person
         (approve_run / reject_run); otherwise every planned suspension is enqueued.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from shared.clock import utcnow
from shared.collections.keys import ActionKey
from shared.messaging import Queue
from shared.services.alerts import AlertKind, send_alert
from shared.services.collections import decide, dispatch
from shared.services.errors import ConflictError, NotFoundError
from shared.services.messages import EnforcementRequest, SweepShard
from shared.services.state import ApprovalRequest, ShardResult, Stores, SweepRun
from shared.storage.audit import AuditEntry
from shared.storage.documents import ConcurrencyConflict

if TYPE_CHECKING:
    from shared.ports import Ports

log = logging.getLogger("cspguard.sweep")
ACTOR = "csp-guard:sweep"


def start_sweep(ctx: Ports, now: datetime | None = None, run_id: str | None = None,
                requested_by: str = "csp-guard:timer") -> SweepRun:
    now = now or utcnow()
    stores = ctx.stores
    run_id = run_id or f"sweep-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    customers = stores.customers()
    size = ctx.settings.sweep_shard_size
    chunks = [tuple(customers[i:i + size]) for i in range(0, len(customers), size)]
    run = SweepRun(run_id=run_id, as_of=now, shards=len(chunks), customers=len(customers), requested_by=requested_by)
    stores.runs.put(run_id, "run", run)
    try:  # holiday data running out, a silent payment feed: alert even when nothing is due
        from shared.services.watch import raise_alerts

        raise_alerts(ctx, now)
    except Exception:  # an alert that cannot be queued must not stop the sweep; health still shows it
        log.exception("could not check the calendar and the payment feed")
    for i, ids in enumerate(chunks):
        shard = SweepShard(run_id=run_id, shard=i, shards=len(chunks), customer_ids=ids, as_of=now)
        ctx.producer.send(Queue.SWEEP_SHARDS, shard.envelope())
    if not chunks:
        return finalize(ctx, run_id, now)
    log.info("sweep %s started: %d customers in %d shards", run_id, len(customers), len(chunks))
    return run


def recent_runs(ctx: Ports, limit: int = 10) -> list[SweepRun]:
    """The newest ``limit`` sweeps, newest first: what last night's run did."""
    return ctx.stores.recent_runs(limit)


def sweep_run(ctx: Ports, run_id: str) -> SweepRun:
    """One sweep run as it stands (NotFoundError when there is none)."""
    run = ctx.stores.runs.get(run_id, "run")
    if run is None:
        raise NotFoundError("no such run")
    return run


def process_shard(ctx: Ports, shard: SweepShard, now: datetime | None = None) -> ShardResult:
    """Evaluate one shard; a redelivered shard that already reported is not evaluated again."""
    now = now or utcnow()
    stores = ctx.stores
    existing = stores.shards.get(shard.run_id, f"shard-{shard.shard}")
    if existing is not None:  # a redelivery: the first delivery may have died before finalizing
        _finalize_if_complete(ctx, shard.run_id, now)
        return existing
    result = ShardResult(run_id=shard.run_id, shard=shard.shard, evaluated=0)
    prefetched = stores.inputs_for_range(sorted(shard.customer_ids))
    for cid in shard.customer_ids:
        try:
            decision = decide(stores, ctx.settings, cid, now, inputs=prefetched.get(cid))
        except Exception as exc:  # one bad ledger must not stop the portfolio; it is reported on the run
            log.exception("evaluation of %s failed", cid)
            result.errors.append(f"{cid}: {type(exc).__name__}: {exc}")
            continue
        if decision is None:
            continue
        result.evaluated += 1
        out = dispatch(ctx, decision, now, allow_suspend=False, actor=ACTOR, run_id=shard.run_id,
                       correlation_id=shard.run_id, inputs=prefetched.get(cid))
        result.notices += len(out.notices)
        result.reactivations += sum(1 for r in out.enforcement if r.action == "reactivate")
        result.approvals += len(out.approvals)
        result.planned.extend(r.model_dump(mode="json") for r in out.planned_suspensions)
    try:
        stores.shards.put(shard.run_id, f"shard-{shard.shard}", result)
    except ConcurrencyConflict:  # a concurrent duplicate delivery reported first
        return stores.shards.get(shard.run_id, f"shard-{shard.shard}") or result

    _finalize_if_complete(ctx, shard.run_id, now)
    return result


def _finalize_if_complete(ctx: Ports, run_id: str, now: datetime) -> None:
    """Count the shard results (no shared counter to contend on); the run is final once all are in."""
    stores = ctx.stores
    done = sum(1 for _ in stores.shard_results(run_id))

    def count(run: SweepRun | None) -> SweepRun | None:
        return None if run is None or run.shards_done >= done else run.model_copy(update={"shards_done": done})

    run = stores.runs.update(run_id, "run", count)
    if run is not None and done >= run.shards and run.status == "running":
        finalize(ctx, run_id, now)


def _planned(stores: Stores, run_id: str) -> list[EnforcementRequest]:
    out: list[EnforcementRequest] = []
    for row in stores.shard_results(run_id):
        out.extend(EnforcementRequest.model_validate(p) for p in row.planned)
    return out


def _totals(stores: Stores, run_id: str) -> dict[str, int]:
    rows = list(stores.shard_results(run_id))
    return {"notices": sum(r.notices for r in rows), "reactivations": sum(r.reactivations for r in rows),
            "approvals": sum(r.approvals for r in rows)}


def finalize(ctx: Ports, run_id: str, now: datetime | None = None) -> SweepRun:
    """Blast-radius check, then release or halt. Only the first caller to move the run on acts."""
    now = now or utcnow()
    stores = ctx.stores
    settings = ctx.settings
    found = stores.runs.get_with_etag(run_id, "run")
    if found is None:
        raise NotFoundError(f"no sweep run {run_id}")
    run, etag = found
    if run.status != "running":
        return run
    planned = _planned(stores, run_id)
    targets = sorted({p.customer_id for p in planned})
    share = len(targets) / run.customers if run.customers else 0.0
    too_many = len(targets) > settings.max_suspensions_per_run or share > settings.max_suspension_share
    errors = [e for r in stores.shard_results(run_id) for e in r.errors]
    update = {**_totals(stores, run_id), "planned_suspensions": len(planned), "customers_to_suspend": len(targets),
              "finished_at": now, "errors": errors[:50]}
    if too_many:
        detail = (f"would suspend {len(targets)} of {run.customers} customers ({share:.1%}); limits are "
                  f"{settings.max_suspensions_per_run} customers and {settings.max_suspension_share:.1%}")
        new = run.model_copy(update={**update, "status": "halted", "detail": detail})
    else:
        new = run.model_copy(update={**update, "status": "completed",
                                     "detail": f"released {len(planned)} suspension(s) of {len(targets)} customer(s)"})
    try:
        stores.runs.put(run_id, "run", new, etag)
    except ConcurrencyConflict:
        return stores.runs.get(run_id, "run") or run
    if too_many:
        key = str(ActionKey.for_run(run_id))
        stores.approvals.upsert("pending", key, ApprovalRequest(
            key=key, customer_id="*", action=None, requested_at=now, why=new.detail, run_id=run_id,
            requested_by=new.requested_by))
        _alert_halted(ctx, new, targets, now)
        log.warning("sweep %s halted: %s", run_id, new.detail)
    else:
        for request in planned:
            ctx.producer.send(Queue.ENFORCEMENT, request.envelope(run_id))
    ctx.audit.record(AuditEntry(customer_id="*", action=f"sweep.{new.status}", actor=ACTOR, reason=new.detail,
                                at=now, correlation_id=run_id,
                                evidence={"run_id": run_id, "customers": run.customers, "targets": targets[:200]}))
    if errors:  # the others were evaluated as usual; these customers got no decision tonight
        send_alert(ctx, AlertKind.SWEEP_ERRORS, run_id,
                   f"sweep {run_id}: {len(errors)} customer(s) could not be evaluated and got no decision: "
                   + "; ".join(errors[:10]) + ("; ..." if len(errors) > 10 else ""), correlation_id=run_id)
    return new


def decide_run(ctx: Ports, run_id: str, approver: str, approve: bool, note: str = "",
               now: datetime | None = None) -> SweepRun:
    """A person approves (release every planned suspension, each re-checked by the worker) or rejects."""
    now = now or utcnow()
    stores = ctx.stores
    found = stores.runs.get_with_etag(run_id, "run")
    if found is None:
        raise NotFoundError(f"no sweep run {run_id}")
    run, etag = found
    if run.status != "halted":
        raise ConflictError(f"run {run_id} is {run.status}, not halted")
    new = run.model_copy(update={"status": "approved" if approve else "rejected",
                                 "detail": f"{run.detail}; {'approved' if approve else 'rejected'} by {approver}"})
    stores.runs.put(run_id, "run", new, etag)  # ConcurrencyConflict: someone else decided first
    request = stores.approvals.get("pending", str(ActionKey.for_run(run_id)))
    if request is not None:
        stores.approvals.upsert("decided", request.key, request.model_copy(update={
            "status": new.status, "decided_by": approver, "decided_at": now, "note": note}))
        stores.approvals.delete("pending", request.key)
    if approve:
        for planned in _planned(stores, run_id):
            ctx.producer.send(Queue.ENFORCEMENT, planned.model_copy(update={"actor": approver}).envelope(run_id))
    ctx.audit.record(AuditEntry(customer_id="*", action=f"sweep.{new.status}", actor=approver,
                                reason=note or new.detail, at=now, correlation_id=run_id,
                                evidence={"run_id": run_id}))
    return new


def _alert_halted(ctx: Ports, run: SweepRun, targets: list[str], now: datetime) -> None:
    """Tell the team the run stopped and waits for a person (``team_run_halted``: nothing failed, nothing was
    suspended). Sent directly, once per run: it concerns no one customer, so no customer ledger is needed."""
    from shared.notify import DeliveryError, TemplateId, team_notification

    settings = ctx.settings
    approval_key = str(ActionKey.for_run(run.run_id))
    key = f"{approval_key}:halted"
    context = {"run_id": run.run_id, "detail": run.detail, "halted_at": now.isoformat(),
               "customers": run.customers, "customers_to_suspend": run.customers_to_suspend,
               "planned_suspensions": run.planned_suspensions, "targets": [_named(ctx, c) for c in targets[:50]],
               "approval_key": approval_key}
    note = team_notification(settings, key, TemplateId.TEAM_RUN_HALTED, context)
    try:
        ctx.idempotency.run_once("notice", key, lambda: ctx.notifier.send(note).model_dump(mode="json"))
    except DeliveryError as exc:  # the halt and its approval stand; the audit says the alert did not go out
        log.warning("halt alert for %s not delivered: %s", run.run_id, exc)
        ctx.audit.record(AuditEntry(customer_id="*", action="notice.failed", actor=ACTOR, at=now, outcome="failed",
                                    reason=f"team_run_halted: {exc}", correlation_id=run.run_id))


def _named(ctx: Ports, customer_id: str) -> dict[str, str]:
    ledger = ctx.stores.ledger(customer_id)
    return {"id": customer_id, "name": (ledger.profile.name if ledger else "") or customer_id}
