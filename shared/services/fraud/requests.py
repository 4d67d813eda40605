"""Service requests to 21Vianet: queued per case, sent once with the evidence pack, tracked on the case.

Partner Center has no service-request API in the 21Vianet cloud, so the channel is e-mail to
``settings.support_address`` or, when ``CSPGUARD_SERVICE_REQUEST_WEBHOOK_URL`` is set, a JSON webhook into
the partner's ticketing system. The idempotency key is the case id: a second scan, a redelivered message
or an operator's repeated click never raise a second request for the same case.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.clock import utcnow
from shared.fraud import evidence_pack, record_action, render_markdown
from shared.messaging import Envelope, Queue
from shared.messaging.kinds import SERVICE_REQUEST
from shared.services.fraud.casework import CaseConflict, CaseNotFound, action_rows, signal_rows
from shared.services.fraud.store import CURRENT, CaseRecord, FraudStores, RequestUpdate, ServiceRequestRecord
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.context import AppContext

log = logging.getLogger("cspguard.fraud.requests")


class ServiceRequestMessage(BaseModel):
    """Payload of a ``fraud.service_request`` message on Queue.SERVICE_REQUESTS."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: str = Field(min_length=1)
    case_id: str = Field(min_length=1)
    requested_by: str = Field(min_length=1)
    note: str = ""
    requested_at: datetime

    @property
    def key(self) -> str:
        return f"fraud:{self.case_id}:service-request"

    def envelope(self) -> Envelope:
        return Envelope(kind=SERVICE_REQUEST, idempotency_key=self.key, payload=self.model_dump(mode="json"))


def raise_service_request(ctx: AppContext, fs: FraudStores, customer_id: str, by: str, note: str = "",
                          now: datetime | None = None) -> tuple[ServiceRequestRecord, bool]:
    """Queue the case's service request unless it already has one; returns (record, queued_now).

    A repeated request records the operator's note as an update of the existing request instead.
    """
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
        return cur.model_copy(update={"service_request": ServiceRequestRecord(requested_at=now, requested_by=by)})

    updated = fs.cases.update(customer_id, CURRENT, change) or rec
    if updated.service_request is None:
        raise CaseConflict(f"case {case_id} changed while raising the service request; try again")
    if queued["now"]:
        msg = ServiceRequestMessage(customer_id=customer_id, case_id=case_id, requested_by=by, note=note,
                                    requested_at=now)
        ctx.producer.send(Queue.SERVICE_REQUESTS, msg.envelope())
    return updated.service_request, queued["now"]


def track_update(fs: FraudStores, customer_id: str, status: str, note: str, by: str,
                 now: datetime | None = None) -> ServiceRequestRecord:
    """Record 21Vianet's answer (acknowledged, closed...) on the case's service request."""
    now = now or utcnow()
    if status not in ("acknowledged", "closed", "sent", "failed"):
        raise CaseConflict("status must be acknowledged, closed, sent or failed")

    def change(cur: CaseRecord | None) -> CaseRecord | None:
        if cur is None or cur.service_request is None:
            return None
        sr = cur.service_request
        upd = RequestUpdate(at=now, by=by, status=status, note=note)
        return cur.model_copy(update={"service_request": sr.model_copy(
            update={"status": status, "updates": [*sr.updates, upd]})})

    rec = fs.cases.update(customer_id, CURRENT, change)
    if rec is None or rec.service_request is None:
        raise CaseNotFound(f"no service request for customer {customer_id}'s case")
    return rec.service_request


def _find(fs: FraudStores, customer_id: str, case_id: str) -> CaseRecord | None:
    rec = fs.current(customer_id)
    if rec is not None and rec.case.case_id == case_id:
        return rec
    return fs.cases.get(customer_id, case_id)


async def build_context(ctx: AppContext, rec: CaseRecord, msg: ServiceRequestMessage, now: datetime) -> dict[str, Any]:
    """The SERVICE_REQUEST template's context, from the case's evidence pack and live subscription status."""
    from shared.partner_center import PartnerCenterError

    settings = ctx.settings
    case = rec.case
    pack = evidence_pack(case, now, rec.customer_name)
    domain = ""
    statuses: dict[str, tuple[str, str]] = {}
    try:
        pc = ctx.partner_center()
        customer = await pc.get_customer(case.customer_id)
        domain = customer.company_profile.domain or ""
        for s in await pc.list_subscriptions(case.customer_id):
            statuses[s.id] = (s.friendly_name or s.offer_name or s.id, str(s.status.value))
    except PartnerCenterError as exc:  # the request still goes out; the evidence pack carries the ids
        log.warning("service request %s: subscription details unavailable: %s", case.case_id, exc)
    subs = list(pack.subscriptions) or list(statuses)
    ask = ("Please investigate suspected fraudulent or compromised use of the subscriptions below, and advise "
           "whether the usage can be stopped or credited. We have suspended them while investigating."
           if case.suspended or rec.containment_keys else
           "Please investigate suspected fraudulent or compromised use of the subscriptions below.")
    if msg.note:
        ask += f"\nNote from {msg.requested_by}: {msg.note}"
    ask += "\n\nEvidence pack:\n" + render_markdown(pack)
    return {
        "partner": {"name": settings.partner_name, "partner_id": settings.pc_tenant_id or "-",
                    "contact": settings.collections_contact},
        "customer": {"name": rec.customer_name or case.customer_id, "tenant_id": case.customer_id,
                     "domain": domain or "-"},
        "request": ask,
        "subscriptions": [{"id": s, "name": statuses.get(s, (s, ""))[0], "status": statuses.get(s, ("", "unknown"))[1]}
                          for s in subs],
        "signals": signal_rows(case),
        "actions": action_rows(case),
        "reference": case.case_id,
    }


async def deliver_service_request(ctx: AppContext, msg: ServiceRequestMessage, *, now: datetime | None = None,
                                  correlation_id: str = "") -> str:
    """Send one case's service request at most once and record reference and status on the case."""
    from shared.notify import Channel, Notification, TemplateId, send_notification
    from shared.notify.webhook import WebhookSender

    now = now or utcnow()
    fs = FraudStores(ctx.tables)
    rec = _find(fs, msg.customer_id, msg.case_id)
    if rec is None:
        return "skipped: no such case"
    settings = ctx.settings
    context = await build_context(ctx, rec, msg, now)
    hook = settings.service_request_webhook_url
    if hook:
        note = Notification(idempotency_key=msg.key, channel=Channel.WEBHOOK, recipient="team",
                            template_id=TemplateId.SERVICE_REQUEST, context=context)
    else:
        note = Notification(idempotency_key=msg.key, channel=Channel.EMAIL, recipient=settings.support_address,
                            template_id=TemplateId.SERVICE_REQUEST, context=context)

    def send() -> dict[str, Any]:
        if hook:
            with WebhookSender(hook) as sender:
                return send_notification(note, settings, webhook=sender, now=now).model_dump(mode="json")
        return send_notification(note, settings, now=now).model_dump(mode="json")

    ran, result = await ctx.idempotency.run_once_async("service-request", msg.case_id, lambda: asyncio.to_thread(send))
    reference = result.get("message_id") or msg.key
    channel = "webhook" if hook else "email"

    def change(cur: CaseRecord | None) -> CaseRecord | None:
        if cur is None or cur.case.case_id != msg.case_id:
            return None
        sr = cur.service_request or ServiceRequestRecord(requested_at=msg.requested_at, requested_by=msg.requested_by)
        if sr.reference == reference and sr.status != "queued":
            return None
        sr = sr.model_copy(update={"status": "sent", "channel": channel, "recipient": hook or settings.support_address,
                                   "reference": reference, "sent_at": now, "subject": result.get("subject")})
        case = cur.case
        if case.is_open:
            case = record_action(case, f"service request sent to 21Vianet by {channel} (ref {reference})", now)
        return cur.model_copy(update={"service_request": sr, "case": case})

    row = CURRENT if (fs.current(msg.customer_id) or rec).case.case_id == msg.case_id else msg.case_id
    fs.cases.update(msg.customer_id, row, change)
    ctx.audit.record(AuditEntry(customer_id=msg.customer_id, action="fraud.service_request", actor=msg.requested_by,
                                reason=f"service request for case {msg.case_id}", correlation_id=correlation_id,
                                outcome="sent" if ran else "duplicate",
                                evidence={"case_id": msg.case_id, "reference": reference, "channel": channel}))
    return "sent" if ran else "duplicate"
