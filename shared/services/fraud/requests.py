"""Service requests to 21Vianet: queued per case, prepared once Partner Center's containment outcome is known,
then filed by an operator in the Partner Center portal (default) or sent by e-mail / webhook.

21Vianet takes suspicious-activity reports only through Partner Center's support request form (Support ->
Customer requests -> New request): there is no API and no documented address. So by default the worker renders
the evidence pack (``srpack``), marks the request ``ready`` and tells the team; the operator files it and records
21Vianet's ticket number and later its status (``tickets``). ``CSPGUARD_SERVICE_REQUEST_CHANNEL=email|webhook``
sends the same pack to a ticketing system in between instead. The idempotency key is the case id: a second scan,
a redelivered message or a repeated click never raise a second request for one case.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.clock import utcnow
from shared.fraud import record_action
from shared.messaging import Queue
from shared.services.fraud.cases import CaseConflict, CaseNotFound, sync_suspensions
from shared.services.fraud.srpack import (
    EvidenceDocument,
    LiveDetails,
    known_record,
    live_details,
    pack_context,
    render_document,
)
from shared.services.fraud.store import CURRENT, CaseRecord, RequestUpdate, ServiceRequestRecord
from shared.services.fraud.tickets import change_request, find_case
from shared.services.messages import ServiceRequestMessage
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.ports import Ports

log = logging.getLogger("cspguard.fraud.requests")
AUTO_NOTE = "raised on containment"  # the note containment once raised requests with (kept out of the pack)
FOLLOW_UP = timedelta(hours=24)  # how long a pack sent as "outcome not confirmed" is watched for the outcome


def raise_service_request(ctx: Ports, customer_id: str, by: str, note: str = "",
                          now: datetime | None = None) -> tuple[ServiceRequestRecord, bool]:
    """Queue the case's service request unless it already has one; returns (record, queued_now).

    A repeated request records the operator's note as an update of the existing request instead.
    """
    fs = ctx.fraud
    now = now or utcnow()
    rec = fs.current(customer_id)
    if rec is None:
        raise CaseNotFound(f"no fraud case for customer {customer_id}")
    case_id = rec.case.case_id
    queued = {"now": False}

    def change(cur: CaseRecord | None) -> CaseRecord | None:
        queued["now"] = False
        if cur is None or cur.case.case_id != case_id:
            return None
        if cur.service_request is not None:
            if not note:
                return None
            sr = cur.service_request
            update = RequestUpdate(at=now, by=by, status=sr.status, note=note)
            return cur.model_copy(update={"service_request": sr.model_copy(update={"updates": [*sr.updates, update]})})
        queued["now"] = True
        return cur.model_copy(update={"service_request": ServiceRequestRecord(
            requested_at=now, requested_by=by, channel=ctx.settings.service_request_route)})

    updated = fs.cases.update(customer_id, CURRENT, change) or rec
    if updated.service_request is None:
        raise CaseConflict(f"case {case_id} changed while raising the service request; try again")
    if queued["now"]:
        msg = ServiceRequestMessage(customer_id=customer_id, case_id=case_id, requested_by=by, note=note,
                                    requested_at=now)
        ctx.producer.send(Queue.SERVICE_REQUESTS, msg.envelope())
    return updated.service_request, queued["now"]


def _wait(ctx: Ports, msg: ServiceRequestMessage, now: datetime) -> bool:
    """Put the request back to wait for the containment outcome; False once the wait is over."""
    fs = ctx.fraud
    settings = ctx.settings
    if now - msg.requested_at >= timedelta(minutes=settings.service_request_max_wait_minutes):
        return False
    later = msg.model_copy(update={"waits": msg.waits + 1})
    ctx.producer.send(Queue.SERVICE_REQUESTS, later.envelope(), delay_seconds=settings.service_request_retry_seconds)
    change_request(fs, msg.customer_id, msg.case_id, lambda sr: None if sr.status == "awaiting_containment"
                    else sr.model_copy(update={"status": "awaiting_containment"}))
    return True


def _pack_note(msg: ServiceRequestMessage) -> str:
    """An operator's note goes into the pack; the marker the containment path leaves does not."""
    return "" if msg.note == AUTO_NOTE else msg.note


def _follow_up(ctx: Ports, msg: ServiceRequestMessage, now: datetime) -> None:
    """Look again later (for up to FOLLOW_UP after the request) whether the containment outcome became known."""
    if now - msg.requested_at >= FOLLOW_UP:
        return
    delay = min(ctx.settings.service_request_retry_seconds * 5, 3600)
    ctx.producer.send(Queue.SERVICE_REQUESTS, msg.model_copy(update={"waits": msg.waits + 1}).envelope(),
                      delay_seconds=delay)


async def deliver_service_request(ctx: Ports, msg: ServiceRequestMessage, *, now: datetime | None = None,
                                  correlation_id: str = "") -> str:
    """Prepare (portal) or send (e-mail/webhook) one case's service request once its containment outcome is known.

    While Partner Center has not confirmed the containment the message goes back on the queue (every
    ``CSPGUARD_SERVICE_REQUEST_RETRY_SECONDS``); after ``CSPGUARD_SERVICE_REQUEST_MAX_WAIT_MINUTES`` the pack goes out
    anyway and says explicitly that the outcome is not yet known.
    """
    now = now or utcnow()
    fs = ctx.fraud
    if find_case(fs, msg.customer_id, msg.case_id) is None:
        return "skipped: no such case"
    sync_suspensions(ctx, msg.customer_id)  # suspensions read back by the enforcement worker, onto the case
    rec = find_case(fs, msg.customer_id, msg.case_id)
    assert rec is not None
    live = await live_details(ctx, msg.customer_id)
    exposure = ctx.stores.unbilled(msg.customer_id)
    currency = exposure.currency if exposure else "CNY"
    doc = render_document(ctx.settings, rec, live, now, _pack_note(msg), currency)
    if not doc.containment_known and rec.case.is_open and _wait(ctx, msg, now):
        return "waiting: containment outcome not yet known"
    route = ctx.settings.service_request_route
    status = "ready" if route == "portal" else "sent"

    def stale(sr: ServiceRequestRecord | None) -> bool:
        """Whether the request's pack is missing, or still ready to file but written before the outcome was known."""
        if sr is None or sr.status in ("filed", "closed"):
            return False
        if sr.status != status or sr.pack_generated_at is None:
            return True
        return route == "portal" and sr.pack_containment == "requested" and doc.containment_known

    if route == "portal":
        result: dict[str, Any] = {"subject": doc.title["zh-CN"], "message_id": None}
        ran = True
        if stale(rec.service_request):
            await _tell_team(ctx, rec, doc)
        if not doc.containment_known and rec.case.is_open:
            _follow_up(ctx, msg, now)  # a pack that says "not confirmed" is prepared again once the outcome is known
    else:
        ran, result = await _send(ctx, msg, rec, live, currency, now)
    reference = result.get("message_id") or msg.key

    def edit(sr: ServiceRequestRecord) -> ServiceRequestRecord | None:
        if not stale(sr):
            return None
        return sr.model_copy(update={
            "status": status, "channel": route, "reference": reference, "subject": result.get("subject"),
            "recipient": None if route == "portal" else (ctx.settings.service_request_webhook_url if route == "webhook"
                                                         else ctx.settings.support_address),
            "sent_at": None if route == "portal" else now, "pack_generated_at": now,
            "pack_containment": doc.containment_status})

    changed = change_request(fs, msg.customer_id, msg.case_id, edit) is not None
    if changed:
        text = (f"service request prepared for the Partner Center portal (containment: {doc.containment_status})"
                if route == "portal" else f"service request sent to 21Vianet by {route} (ref {reference})")
        fs.cases.update(msg.customer_id, CURRENT, lambda cur: cur.model_copy(update={"case": record_action(
            cur.case, text, now)}) if cur and cur.case.case_id == msg.case_id and cur.case.is_open else None)
    if changed or route != "portal":
        ctx.audit.record(AuditEntry(
            customer_id=msg.customer_id, action="fraud.service_request", actor=msg.requested_by, at=now,
            reason=f"service request for case {msg.case_id}", correlation_id=correlation_id,
            outcome=status if ran else "duplicate",
            evidence={"case_id": msg.case_id, "reference": reference, "channel": route,
                      "containment": doc.containment_status}))
    return status if ran else "duplicate"


async def _send(ctx: Ports, msg: ServiceRequestMessage, rec: CaseRecord, live: LiveDetails, currency: str,
                now: datetime) -> tuple[bool, dict[str, Any]]:
    from shared.fraud import evidence_pack
    from shared.notify import Channel, NotConfigured, Notification, TemplateId

    settings = ctx.settings
    hook = settings.service_request_webhook_url if settings.service_request_route == "webhook" else None
    if settings.service_request_route == "webhook" and not hook:  # parked with this reason, never e-mailed instead
        raise NotConfigured("CSPGUARD_SERVICE_REQUEST_CHANNEL=webhook needs CSPGUARD_SERVICE_REQUEST_WEBHOOK_URL")
    lang = settings.service_request_language
    rec = known_record(rec)
    pack = evidence_pack(rec.case, now, rec.customer_name)
    context = pack_context(settings, rec, pack, live, lang, _pack_note(msg), currency)
    note = Notification(idempotency_key=msg.key, channel=Channel.WEBHOOK if hook else Channel.EMAIL,
                        recipient="team" if hook else settings.support_address, language=lang,
                        template_id=TemplateId.SERVICE_REQUEST, context=context)

    def send() -> dict[str, Any]:
        return ctx.notifier.send(note, webhook_url=hook, now=now).model_dump(mode="json")

    return await ctx.idempotency.run_once_async("service-request", msg.case_id, lambda: asyncio.to_thread(send))


async def _tell_team(ctx: Ports, rec: CaseRecord, doc: EvidenceDocument) -> None:
    """Portal channel: send the team the paste-ready pack and the portal steps (once per case)."""
    from shared.notify import Channel, DeliveryError, Notification, TemplateId

    settings = ctx.settings
    case = rec.case
    context = {"customer": {"name": rec.customer_name or case.customer_id, "tenant_id": case.customer_id},
               "case_id": case.case_id, "containment_status": doc.containment_status,
               "containment_known": doc.containment_known, "title": doc.title["zh-CN"],
               "text_zh": doc.text["zh-CN"], "text_en": doc.text["en"], "steps": list(doc.portal_steps),
               "download": f"/api/fraud/cases/{case.customer_id}/evidence"}
    hook = settings.team_webhook_url
    key = f"fraud:{case.case_id}:service-request-ready:{doc.containment_status}"
    note = Notification(idempotency_key=key, channel=Channel.WEBHOOK if hook else Channel.EMAIL,
                        recipient="team" if hook else settings.collections_contact,
                        template_id=TemplateId.SERVICE_REQUEST_READY, context=context)
    try:
        await ctx.idempotency.run_once_async("fraud-alert", key, lambda: asyncio.to_thread(
            lambda: ctx.notifier.send(note).model_dump(mode="json")))
    except DeliveryError as exc:  # the pack is ready on the case either way; the alert failure is audited
        log.warning("service request ready alert %s not delivered: %s", key, exc)
        ctx.audit.record(AuditEntry(customer_id=case.customer_id, action="fraud.alert", actor="csp-guard:fraud",
                                    reason=f"service request ready, alert not delivered: {exc}", outcome="failed",
                                    evidence={"case_id": case.case_id, "key": key}))
