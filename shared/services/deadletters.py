"""Operators' side of messages the app could not process: drain poison queues, replay once, discard, block.

- Poison queues are drained into the dead-letter store (timer, and before every listing and every non-payment
  suspension), so a message the host gave up on is listed with its reason and blocks harm like a parked one.
- A replay names its actor, is audited with the original and the corrected body, happens once, is validated as
  strictly as a fresh message by the same models the handler uses, and keeps the original's queue, kind, key
  and customer. Replay onto ``enforcement-actions`` is refused: an operator replaying a suspension would bypass
  the fresh-data re-check's intent, approvals and the blast-radius halt; the manual action routes exist for that.
- A letter that names no readable customer blocks nothing, so the team is alerted when it is kept.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from shared.clock import utcnow
from shared.messaging import Queue
from shared.messaging.envelope import Envelope, EnvelopeError, decode_envelope
from shared.messaging.handling import validation_reason
from shared.messaging.inspect import decode_base64_text, names_in
from shared.services.errors import InvalidRequest, NotFoundError
from shared.storage.audit import AuditEntry
from shared.storage.deadletters import DeadLetter, LetterStatus, Origin

if TYPE_CHECKING:
    from shared.ports import Ports

log = logging.getLogger("cspguard.deadletters")
NO_CUSTOMER = "*"  # audit partition of letters that name no customer (as sweep-wide entries use)
NOT_REPLAYABLE = {Queue.ENFORCEMENT.value: "enforcement requests are never replayed by hand: an operator replaying "
                  "a suspension would bypass approvals and the blast-radius halt. Discard it and use "
                  "POST /api/customers/{id}/actions/suspend|reactivate, or let the next sweep or payment re-plan it"}


class ReplayRefused(InvalidRequest):
    """The replay (or its corrected body, or a discard without a reason) is not acceptable; the message says why
    and ``operation`` which of the two was refused (HTTP 400 ``<operation> refused: <why>``)."""

    def __init__(self, message: str, operation: str = "replay") -> None:
        super().__init__(message)
        self.operation = operation


def payload_models(queue: str) -> Mapping[str, type[BaseModel]]:
    """kind -> payload model for each queue: the same mapping the queue's handler validates with."""
    from shared.messaging import kinds
    from shared.services.messages import (
        CollectionsNotice,
        EnforcementRequest,
        FraudScanItem,
        ServiceRequestMessage,
        SweepShard,
    )
    from shared.services.payments import EVENT_MODELS

    contract: dict[str, Mapping[str, type[BaseModel]]] = {
        Queue.PAYMENT_EVENTS.value: EVENT_MODELS,
        Queue.SWEEP_SHARDS.value: {kinds.SWEEP_SHARD: SweepShard},
        Queue.ENFORCEMENT.value: {kinds.ENFORCEMENT: EnforcementRequest},
        Queue.NOTIFICATIONS.value: {kinds.NOTICE: CollectionsNotice},
        Queue.SERVICE_REQUESTS.value: {kinds.SERVICE_REQUEST: ServiceRequestMessage},
        Queue.FRAUD_SCAN.value: {kinds.FRAUD_SCAN: FraudScanItem},
    }
    return contract.get(queue, {})


def validate(queue: str, text: str) -> Envelope:
    """Validate a message for ``queue`` exactly as its handler would, or raise ReplayRefused with the reason."""
    try:
        envelope = decode_envelope(text)
    except EnvelopeError as exc:
        raise ReplayRefused(exc.reason) from None
    models = payload_models(queue)
    if envelope.kind not in models:
        raise ReplayRefused(f"unknown kind {envelope.kind!r} for queue {queue} (known: {', '.join(sorted(models))})")
    if queue == Queue.PAYMENT_EVENTS.value:
        from shared.services.payments import InvalidEvent, parse_payment_event

        try:
            parse_payment_event(envelope.kind, envelope.payload)
        except InvalidEvent as exc:
            raise ReplayRefused(str(exc)) from None
        return envelope
    try:
        models[envelope.kind].model_validate(envelope.payload)
    except ValidationError as exc:
        raise ReplayRefused(f"invalid {envelope.kind} payload: {validation_reason(exc)}") from None
    return envelope


def _keeps_identity(letter: DeadLetter, text: str) -> None:
    """A correction may fix a message, not turn it into another one."""
    named = names_in(text)
    kind = letter.kind if letter.kind in payload_models(letter.queue) else None  # an unknown kind is the error
    for what, was, now in (("kind", kind, named.kind), ("idempotency_key", letter.idempotency_key,
                                                        named.idempotency_key),
                           ("customer", letter.customer_id, named.customer_id)):
        if was is not None and now != was:
            raise ReplayRefused(f"a replay keeps the original's {what} ({was!r}); the corrected body has {now!r}")
    if letter.queue == Queue.NOTIFICATIONS.value:
        _keeps_notice(letter.body, text)


# what a notice says and to whom: a correction may fix a field, never turn a reminder into "you were suspended"
NOTICE_IDENTITY = ("template", "stage_id", "audience", "case_id", "key")


def _keeps_notice(original: str, corrected: str) -> None:
    try:
        was = decode_envelope(original).payload
    except EnvelopeError:  # the original was never a readable notice: the strict validation alone applies
        return
    now = decode_envelope(corrected).payload  # validated before this check
    for field in NOTICE_IDENTITY:
        if field in was and now.get(field) != was.get(field):
            raise ReplayRefused(f"a replayed notice keeps the original's {field} ({was.get(field)!r}); the corrected "
                                f"body has {now.get(field)!r}")


@dataclass(frozen=True)
class Drained:
    """What one poison drain moved into the dead-letter store."""

    moved: int
    by_queue: dict[str, int]


def drain_poison(ctx: Ports, queues: tuple[Queue, ...] = tuple(Queue), limit: int = 500) -> Drained:
    """Move every message of ``<queue>-poison`` into the dead-letter store with its reason, then delete it.

    Keyed by the poison message id, so a drain that dies between the store and the delete keeps one letter."""
    by_queue: dict[str, int] = {}
    for queue in queues:
        messages = ctx.poison.receive(queue.poison, limit)
        for m in messages:
            raw = str(m.content or "")
            decoded = decode_base64_text(raw)
            if decoded is None:
                body, reason = raw, ("undecodable: the body is not valid base64 (host.json messageEncoding), so the "
                                     "Functions host moved it to poison without running the function")
            else:
                body, reason = decoded, ("exceeded maxDequeueCount: every delivery attempt failed and the Functions "
                                         f"host moved it to {queue.poison}")
            ctx.deadletters.put(queue.value, body, reason, 0, origin=Origin.POISON, letter_id=f"poison-{m.id}")
            ctx.poison.delete(queue.poison, m)
            by_queue[queue.value] = by_queue.get(queue.value, 0) + 1
    moved = sum(by_queue.values())
    if moved:
        log.warning("drained %d poison message(s) into the dead-letter store: %s", moved, by_queue)
    return Drained(moved, by_queue)


_last_drain: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()  # per poison queues (context)
FRESH_DRAIN_SECONDS = 5.0  # a sweep's suspensions share one drain instead of six queue reads each


def blocking(ctx: Ports, customer_id: str) -> list[DeadLetter]:
    """Letters still waiting that name this customer: while any wait, no non-payment suspension runs. Poison
    queues are drained first (at most every few seconds per context; the timer drains every minute)."""
    import time

    if time.monotonic() - _last_drain.get(ctx.poison, float("-inf")) > FRESH_DRAIN_SECONDS:
        drain_poison(ctx)
        _last_drain[ctx.poison] = time.monotonic()
    return ctx.deadletters.waiting_for(customer_id)


def list_letters(ctx: Ports, queue: str | None = None, status: str = "waiting") -> dict[str, Any]:
    """``GET /api/dead-letters``: the letters of one queue (or all) with ``status`` (waiting, replayed, discarded or
    all), oldest first, each with its size. Poison queues are drained first, so what the host gave up on a moment
    ago is listed too."""
    drain_poison(ctx)
    found = ctx.deadletters.list(queue, include_replayed=status == "all",
                                 status=None if status == "all" else LetterStatus(status))
    return {"items": [letter_view(d) for d in found], "count": len(found)}


def get_letter(ctx: Ports, queue: str, letter_id: str) -> dict[str, Any]:
    """One letter with its size; NotFoundError when the queue has no such letter."""
    found = ctx.deadletters.get(queue, letter_id)
    if found is None:
        raise NotFoundError(f"no dead letter {letter_id} for queue {queue}")
    return letter_view(found)


def letter_view(letter: DeadLetter) -> dict[str, Any]:
    """A letter as the API shows it: every field, and the body's size in characters."""
    out: dict[str, Any] = letter.model_dump(mode="json")
    out["size"] = len(letter.body)
    return out


def replay(ctx: Ports, queue: str, letter_id: str, actor: str, body: str | None = None) -> DeadLetter:
    """Re-send a waiting letter (as kept, or corrected) to its own queue, once, audited."""
    letter = ctx.deadletters.get(queue, letter_id)
    if letter is None:
        raise NotFoundError(f"no dead letter {letter_id} for queue {queue}")
    if queue in NOT_REPLAYABLE:
        raise ReplayRefused(NOT_REPLAYABLE[queue])
    if not letter.waiting:
        from shared.storage.deadletters import LetterNotWaiting

        raise LetterNotWaiting(f"dead letter {letter_id} was already {letter.status.value}")
    text = letter.body if body is None else body
    envelope = validate(queue, text)
    _keeps_identity(letter, text)
    from shared.messaging.producer import MessageTooLarge

    # send first, then settle: a crash in between leaves the letter waiting (still blocking its customer, and
    # replayable again; handlers are idempotent by key), never settled with nothing sent
    try:
        ctx.producer.send(queue, envelope)
    except MessageTooLarge as exc:
        raise ReplayRefused(str(exc)) from None
    settled = ctx.deadletters.settle(queue, letter_id, {
        "status": LetterStatus.REPLAYED, "replayed_at": utcnow(), "replayed_by": actor,
        "replay_body": None if body is None else body})
    _audit(ctx, settled, "deadletter.replayed", actor, "replayed" + (" with a corrected body" if body else ""),
           {"original": letter.body, "corrected": body, "kind": envelope.kind,
            "idempotency_key": envelope.idempotency_key})
    return settled


def discard(ctx: Ports, queue: str, letter_id: str, actor: str, reason: str) -> DeadLetter:
    """Give a waiting letter up, once, audited; it no longer blocks its customer."""
    if not reason.strip():
        raise ReplayRefused("say why the message is discarded: {\"reason\": \"...\"}", operation="discard")
    settled = ctx.deadletters.settle(queue, letter_id, {
        "status": LetterStatus.DISCARDED, "discarded_at": utcnow(), "discarded_by": actor,
        "discard_reason": reason.strip()[:1000]})
    _audit(ctx, settled, "deadletter.discarded", actor, reason.strip()[:1000], {"original": settled.body})
    return settled


def _audit(ctx: Ports, letter: DeadLetter, action: str, actor: str, reason: str,
           evidence: dict[str, Any]) -> None:
    ctx.audit.record(AuditEntry(customer_id=letter.customer_id or NO_CUSTOMER, action=action, actor=actor,
                                reason=reason, evidence={"queue": letter.queue, "letter_id": letter.id,
                                                         "letter_reason": letter.reason, **evidence}))


def on_kept(ctx: Ports, letter: DeadLetter) -> None:
    """Every newly kept message counts in ``cspguard.failures{component="deadletter"}``; one naming no customer
    blocks nothing, so the team is told (once per letter)."""
    from shared.observability import metrics

    metrics().failure("deadletter", f"{letter.queue}:{letter.origin.value}")
    if letter.customer_id is not None:
        return
    from shared.services.messages import CollectionsNotice, LetterRef

    notice = CollectionsNotice(customer_id=NO_CUSTOMER, key=f"deadletter:{letter.queue}:{letter.id}",
                               stage_id="dead-letter", template="team_message_kept", audience="team",
                               reason=letter.reason[:500], letter=LetterRef(queue=letter.queue, id=letter.id))
    try:
        ctx.producer.send(Queue.NOTIFICATIONS, notice.envelope())
    except Exception:  # the letter is kept and listed whatever happens to the alert
        log.exception("could not queue the team alert for dead letter %s/%s", letter.queue, letter.id)
