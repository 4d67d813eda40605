"""Collections flow: the sweep timer, its shards, the enforcement worker and the notifications worker."""

from __future__ import annotations

import logging

import azure.functions as func

from functions._queue import receive, run_or_defer, send_or_park
from shared.messaging import Queue
from shared.messaging.kinds import ENFORCEMENT as ENFORCEMENT_KIND
from shared.messaging.kinds import NOTICE as NOTICE_KIND
from shared.messaging.kinds import SWEEP_SHARD as SWEEP_SHARD_KIND

bp = func.Blueprint()
log = logging.getLogger("cspguard.functions.collections")


@bp.timer_trigger(arg_name="timer", schedule="%SWEEP_SCHEDULE%", run_on_startup=False)
async def collections_sweep(timer: func.TimerRequest) -> None:
    """The daily sweep, then the check that warns the team before a suspension can no longer be undone."""
    from shared.context import get_context
    from shared.services.deadlines import check_suspension_deadlines
    from shared.services.sweep import start_sweep

    if timer.past_due:
        log.warning("collections sweep is running late")
    ctx = get_context()
    run = start_sweep(ctx)
    log.info("sweep %s: %d customers in %d shards", run.run_id, run.customers, run.shards)
    try:  # the sweep is queued already; a failed check is logged and runs again with the next sweep
        report = await check_suspension_deadlines(ctx)
        log.info("suspension deadlines: %d due, %d alerted", len(report.due), report.alerted)
    except Exception:
        log.exception("suspension deadline check failed")


@bp.queue_trigger(arg_name="msg", queue_name=Queue.SWEEP_SHARDS.value, connection="AzureWebJobsStorage")
def collections_sweep_shard(msg: func.QueueMessage) -> None:
    from shared.context import get_context
    from shared.observability import correlation_scope
    from shared.services.messages import SweepShard
    from shared.services.sweep import process_shard

    parsed = receive(Queue.SWEEP_SHARDS, msg, {SWEEP_SHARD_KIND: SweepShard})
    if parsed is None:
        return
    envelope, shard = parsed
    with correlation_scope(envelope.correlation_id):
        process_shard(get_context(), shard)  # type: ignore[arg-type]


@bp.queue_trigger(arg_name="msg", queue_name=Queue.ENFORCEMENT.value, connection="AzureWebJobsStorage")
async def enforcement_action(msg: func.QueueMessage) -> None:
    from shared.context import get_context
    from shared.observability import correlation_scope
    from shared.services.enforcement import TRANSIENT, execute
    from shared.services.messages import EnforcementRequest

    parsed = receive(Queue.ENFORCEMENT, msg, {ENFORCEMENT_KIND: EnforcementRequest})
    if parsed is None:
        return
    envelope, request = parsed
    with correlation_scope(envelope.correlation_id) as cid:
        outcome = await run_or_defer(Queue.ENFORCEMENT, msg, envelope,
                                     execute(get_context(), request, correlation_id=cid),  # type: ignore[arg-type]
                                     transient=TRANSIENT)
        if outcome is None:
            log.info("enforcement %s deferred", request.key)  # type: ignore[attr-defined]
        else:
            log.info("enforcement %s: %s (%s)", outcome.key, outcome.status, outcome.detail)


@bp.queue_trigger(arg_name="msg", queue_name=Queue.NOTIFICATIONS.value, connection="AzureWebJobsStorage")
async def notification(msg: func.QueueMessage) -> None:
    from shared.context import get_context
    from shared.observability import correlation_scope
    from shared.services.messages import CollectionsNotice
    from shared.services.notices import deliver

    parsed = receive(Queue.NOTIFICATIONS, msg, {NOTICE_KIND: CollectionsNotice})
    if parsed is None:
        return
    envelope, notice = parsed
    with correlation_scope(envelope.correlation_id) as cid:
        result = await send_or_park(Queue.NOTIFICATIONS, msg, envelope,
                                    deliver(get_context(), notice, correlation_id=cid))  # type: ignore[arg-type]
        log.info("notice %s: %s", notice.key, result or "deferred or parked")  # type: ignore[attr-defined]
