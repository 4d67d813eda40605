"""Payment events in: the partner's billing system is the source of truth, csp-guard keeps a ledger of it.

Events arrive on the payment-events queue (or over HTTP, which enqueues them, so every event takes the
same path). Each is applied to the customer's ledger with an ETag check; duplicates are harmless (the
ledger remembers event ids) and order does not matter. The customer is then re-evaluated at once, so a
payment reactivates without waiting for the next sweep.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel, ValidationError

from shared.clock import utcnow
from shared.collections import CustomerLedger, LedgerError, apply_event
from shared.domain import CustomerUpdated, PaymentEvent, PaymentReceived
from shared.domain.events import PROFILE_FIELDS
from shared.messaging import Envelope, Queue
from shared.messaging.envelope import current_correlation_id
from shared.messaging.handling import validation_reason
from shared.services.alerts import AlertKind, send_alert
from shared.services.collections import Dispatched, decide, dispatch, reactivate_if_paid
from shared.services.errors import ConflictError, EvaluationError, InvalidRequest, NotFoundError, ServiceError
from shared.services.state import FeedStatus, Stores
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.ports import Ports
    from shared.services.delivery import Received

log = logging.getLogger("cspguard.payments")
FEED = "payment-events"
# kind -> event model, derived from the PaymentEvent union so a new event type needs no edit here
EVENT_MODELS: dict[str, type[BaseModel]] = {
    m.model_fields["type"].default: m for m in get_args(get_args(PaymentEvent)[0])
}
EVENT_KINDS = tuple(EVENT_MODELS)


class InvalidEvent(ServiceError, ValueError):
    """An event that can never be applied; the reason names the field or rule."""


def parse_payment_event(kind: str, payload: dict[str, Any]) -> PaymentEvent:
    """Validate an event; the envelope's kind is the event type (``type`` may be omitted in the payload)."""
    if kind not in EVENT_KINDS:
        raise InvalidEvent(f"unknown payment event kind {kind!r}; known: {', '.join(EVENT_KINDS)}")
    if payload.get("type", kind) != kind:
        raise InvalidEvent(f"payload type {payload.get('type')!r} does not match envelope kind {kind!r}")
    try:
        return EVENT_MODELS[kind].model_validate({**payload, "type": kind})  # type: ignore[return-value]
    except ValidationError as exc:
        raise InvalidEvent(f"invalid {kind} event: {validation_reason(exc)}") from None


def event_envelope(event: PaymentEvent, source: str, correlation_id: str | None = None) -> Envelope:
    """The envelope a producer sends for one event (the event id is the idempotency key)."""
    payload = {**event.model_dump(mode="json", exclude_unset=True), "type": event.type}
    return Envelope(kind=payload["type"], idempotency_key=event.event_id, source=source, payload=payload,
                    correlation_id=correlation_id or current_correlation_id())


def record_event(stores: Stores, event: PaymentEvent, now: datetime) -> tuple[bool, CustomerLedger]:
    """Apply one event to its ledger. Returns (changed, ledger); LedgerError if it can never apply."""
    changed, ledger, _ = _record_event(stores, event, now)
    return changed, ledger


def _record_event(stores: Stores, event: PaymentEvent,
                  now: datetime) -> tuple[bool, CustomerLedger, PaymentReceived | None]:
    """``record_event``, plus the recorded payment this event restated (same payment_id and content, other
    event id), decided on the ledger version actually written."""
    cid = event.customer_id
    new_event = False
    restated: PaymentReceived | None = None

    def apply(cur: CustomerLedger | None) -> CustomerLedger:
        nonlocal new_event, restated
        cur = cur or CustomerLedger.empty(cid)
        new_event = event.event_id not in cur.seen_event_ids  # decided on the version actually written
        known = cur.payments.get(event.payment_id) if isinstance(event, PaymentReceived) else None
        restated = known if new_event and known is not None and not known.cumulative else None
        return apply_event(cur, event)

    ledger = stores.ledgers.update(cid, "ledger", apply)
    assert ledger is not None
    if not new_event:
        return False, ledger, None
    stores.feeds.upsert("feed", FEED, FeedStatus(name=FEED, last_event_at=now, events=0))
    return True, ledger, restated


def ingest(ctx: Ports, event: PaymentEvent, *, now: datetime | None = None,
           correlation_id: str | None = None, source: str = "") -> tuple[bool, Dispatched | None]:
    """Record the event, then re-evaluate the customer and publish notices and reactivations. ``source`` is
    the system that sent it (the envelope's ``source``), named in the audit of profile changes.

    An evaluation that fails on this customer's stored data does not undo or refuse the event: it is recorded
    (a payment still counts), the failure is audited and alerted once per ledger state, what csp-guard
    suspended for non-payment is lifted once nothing is owed, and the message completes, so later events of
    the customer keep applying."""
    stores = ctx.stores
    now = now or utcnow()
    before = stores.ledger(event.customer_id) if isinstance(event, CustomerUpdated) else None
    changed, ledger, restated = _record_event(stores, event, now)
    if not changed:  # still evaluated: the first delivery may have died between the ledger write and here
        log.info("duplicate payment event %s: ledger unchanged, customer re-evaluated", event.event_id)
    elif isinstance(event, CustomerUpdated):
        _audit_profile_change(ctx, event, before, ledger, source or "unknown", now, correlation_id)
    elif restated is not None:  # same content (other content raised LedgerError): the producer's retry
        ctx.audit.record(AuditEntry(
            customer_id=event.customer_id, action="payment.duplicate", actor=_who_sent(source),
            reason=f"event {event.event_id} restates payment {restated.payment_id} of event {restated.event_id} "
                   "with the same amount, currency, invoice and time: counted once",
            at=now, correlation_id=correlation_id or "", evidence={"payment_id": restated.payment_id}))
    try:
        decision = decide(stores, ctx.settings, event.customer_id, now)
    except EvaluationError as exc:
        log.error("%s (after event %s)", exc, event.event_id)
        ctx.audit.record(AuditEntry(customer_id=event.customer_id, action="evaluation.failed", actor="csp-guard",
                                    reason=str(exc), at=now, outcome="failed", correlation_id=correlation_id or "",
                                    evidence={"event_id": event.event_id}))
        send_alert(ctx, AlertKind.EVALUATION_FAILED, f"{event.customer_id}:{ledger.summary.digest}",
                   f"{exc}. Event {event.event_id} was recorded; the customer gets no collections decision "
                   "(no notices, no suspension; a non-payment suspension is lifted only once nothing is owed) until "
                   "its data is corrected.",
                   customer_id=event.customer_id, correlation_id=correlation_id)
        lifted = reactivate_if_paid(ctx, event.customer_id, now, actor=f"event:{event.event_id}",
                                    correlation_id=correlation_id)
        return changed, Dispatched(enforcement=[lifted]) if lifted else None
    if decision is None:
        return changed, None
    return changed, dispatch(ctx, decision, now, allow_suspend=False, actor=f"event:{event.event_id}",
                             correlation_id=correlation_id)


def _audit_profile_change(ctx: Ports, event: CustomerUpdated, before: CustomerLedger | None,
                          after: CustomerLedger, source: str, now: datetime, correlation_id: str | None) -> None:
    """Who changed a customer's profile (the sending system), what it asked for and what actually changed
    (an older event loses to a newer one per field). A segment change can lower a customer's protection."""
    old = (before or CustomerLedger.empty(event.customer_id)).profile.model_dump(mode="json")
    new = after.profile.model_dump(mode="json")
    asked = sorted(event.model_fields_set & PROFILE_FIELDS)
    changed = {k: {"from": old.get(k), "to": new.get(k)} for k in asked if old.get(k) != new.get(k)}
    ctx.audit.record(AuditEntry(customer_id=event.customer_id, action="profile.updated", actor=_who_sent(source),
                                reason=f"customer.updated {event.event_id}: {', '.join(asked)}", at=now,
                                correlation_id=correlation_id or "", evidence={"changed": changed, "asked": asked}))
    if "segment" in changed:
        waiting = [a.key for a in ctx.stores.approvals.partition("pending") if a.customer_id == event.customer_id]
        if waiting:
            seg = changed["segment"]
            send_alert(ctx, AlertKind.PROFILE_CHANGED_WHILE_PENDING, event.event_id,
                       f"{source} changed the segment from {seg['from']} to {seg['to']} (event {event.event_id}) "
                       f"while {len(waiting)} action(s) wait for approval ({', '.join(waiting[:5])}); they still "
                       "need a person", customer_id=event.customer_id, correlation_id=correlation_id)


def payment_conflicts(stores: Stores, events: list[PaymentEvent]) -> dict[int, str]:
    """Index -> why, for payments that restate a ``payment_id`` (recorded, or earlier in ``events``) with other
    content: refused at the HTTP ingress so the producer hears of it at once (the queue path parks them)."""
    from shared.collections.ledger import same_payment

    seen: dict[tuple[str, str], PaymentReceived] = {}
    ledgers: dict[str, CustomerLedger | None] = {}
    out: dict[int, str] = {}
    for i, event in enumerate(events):
        if not isinstance(event, PaymentReceived):
            continue
        cid = event.customer_id
        if cid not in ledgers:
            ledgers[cid] = stores.ledger(cid)
        stored = ledgers[cid]
        known = seen.get((cid, event.payment_id)) or (stored.payments.get(event.payment_id) if stored else None)
        if known is not None and known.event_id != event.event_id and not same_payment(known, event) \
                and not (known.cumulative and event.cumulative):
            out[i] = (f"payment {event.payment_id} was already recorded by event {known.event_id} with "
                      f"{known.amount} {known.currency}, received {known.received_at.isoformat()}: a distinct "
                      "payment needs its own payment_id")
        seen.setdefault((cid, event.payment_id), event)
    return out


class PaymentConflicts(ConflictError):
    """Payments that restate a recorded ``payment_id`` with other content; none of the batch was accepted
    (HTTP 409 with ``problems``: index, event id and why, per refused payment)."""

    def __init__(self, message: str, problems: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.details = {"problems": problems}


def accept_events(ctx: Ports, events: list[PaymentEvent], source: str,
                  correlation_id: str | None = None) -> list[str]:
    """The HTTP ingress: all of ``events`` queued, or none when any payment restates a recorded one with other
    content (PaymentConflicts), so the producer hears of it at once."""
    conflicts = payment_conflicts(ctx.stores, events)
    if conflicts:
        raise PaymentConflicts(f"{len(conflicts)} of {len(events)} payments restate a recorded payment_id with other "
                               "content; none was accepted",
                               [{"index": i, "event_id": events[i].event_id, "error": why}
                                for i, why in sorted(conflicts.items())])
    return enqueue_events(ctx, events, source, correlation_id)


def enqueue_events(ctx: Ports, events: list[PaymentEvent], source: str,
                   correlation_id: str | None = None) -> list[str]:
    """Put validated events on the payment-events queue (the HTTP ingress and the AR import use this)."""
    for event in events:
        ctx.producer.send(Queue.PAYMENT_EVENTS, event_envelope(event, source, correlation_id))
    return [e.event_id for e in events]


def record_dispute(ctx: Ports, customer_id: str, fields: dict[str, Any], actor: str,
                   now: datetime | None = None) -> list[str]:
    """An operator's dispute of an invoice (``invoice_id``, ``amount``, ``reason``, optional ``event_id`` that makes
    retries safe), recorded through the payment-events path as an ``invoice.disputed`` event; its id returned.
    The customer is the one the request names (never the body's); NotFoundError when it has no ledger."""
    import uuid

    if ctx.stores.ledger(customer_id) is None:
        raise NotFoundError(f"customer {customer_id} has no ledger (no payment events received)")
    payload = {**fields, "event_id": fields.get("event_id") or f"dispute-{uuid.uuid4().hex}",
               "customer_id": customer_id, "occurred_at": (now or utcnow()).isoformat()}
    try:
        event = parse_payment_event("invoice.disputed", payload)
    except InvalidEvent as exc:
        raise InvalidRequest(str(exc)) from None
    return enqueue_events(ctx, [event], source=actor or "operator")


def feed_age_hours(stores: Stores, now: datetime) -> float | None:
    """Hours since the last payment event, or None if none was ever received."""
    status = stores.feeds.get("feed", FEED)
    return None if status is None else (now - status.last_event_at).total_seconds() / 3600


__all__ = ["EVENT_KINDS", "InvalidEvent", "LedgerError", "PaymentConflicts", "accept_events", "enqueue_events",
           "event_envelope", "feed_age_hours", "ingest", "parse_payment_event", "payment_conflicts", "record_dispute",
           "record_event"]


def _who_sent(source: str) -> str:
    """The audit actor for the system that sent an event: the envelope's ``source`` (``erp``), or the signed-in
    principal's actor name when the HTTP ingress already resolved one (``system:crm-sync``, ``operator:ana``)."""
    if not source:
        return "system:unknown"
    return source if source.startswith(("system:", "operator:")) else f"system:{source}"


def handle_event(ctx: Ports, m: Received, event: PaymentEvent, *,
                 correlation_id: str) -> tuple[bool, Dispatched | None] | None:
    """The payment-events worker's use case: ingest (its result), parking what retrying can never fix with its
    reason (None)."""
    from shared.collections import PolicyError
    from shared.services.delivery import park

    try:
        return ingest(ctx, event, correlation_id=correlation_id, source=m.envelope.source)
    except LedgerError as exc:  # e.g. a currency contradicting the invoice: retrying can never fix it
        park(ctx, m, f"cannot apply {m.envelope.kind}: {exc}")
    except PolicyError as exc:  # the ledger is updated; evaluation needs an operator (e.g. migrate the case)
        park(ctx, m, f"recorded, but the customer cannot be evaluated: {exc}; fix the policy or migrate the case, "
                     "then replay")
    return None
