"""The 21Vianet ticket an operator filed in the Partner Center portal: its number and status on the case.

Both are recorded on the case's service request (``ticket_number``, ``ticket_status``, ``updates``), in its
timeline and in the audit log with the actor. Status values are the portal's: open, attention_needed, closed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.clock import utcnow
from shared.fraud import record_action
from shared.services.fraud.cases import CaseConflict, CaseNotFound
from shared.services.fraud.store import CURRENT, CaseRecord, FraudStores, RequestUpdate, ServiceRequestRecord
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.ports import Ports

TICKET_STATUSES = ("open", "attention_needed", "closed")
_TICKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./#-]{0,63}$")


def valid_ticket_number(number: str) -> bool:
    return bool(_TICKET.match(number))


def change_request(fs: FraudStores, customer_id: str, case_id: str | None,
                    edit: Any) -> CaseRecord | None:
    """Apply ``edit(ServiceRequestRecord) -> ServiceRequestRecord | None`` to the case's request (current row, or
    the archived row of an earlier case)."""
    cur = fs.current(customer_id)
    row = CURRENT if case_id is None or (cur is not None and cur.case.case_id == case_id) else case_id

    def change(rec: CaseRecord | None) -> CaseRecord | None:
        if rec is None or rec.service_request is None or (case_id is not None and rec.case.case_id != case_id):
            return None
        sr = edit(rec.service_request)
        return None if sr is None else rec.model_copy(update={"service_request": sr})

    return fs.cases.update(customer_id, row, change)


def record_ticket(ctx: Ports, customer_id: str, number: str, by: str, note: str = "",
                  now: datetime | None = None, case_id: str | None = None) -> ServiceRequestRecord:
    """Record the 21Vianet ticket number an operator got after filing the pack in the portal (audited); on the
    customer's current case, or on ``case_id``."""
    fs = ctx.fraud
    now = now or utcnow()
    number = number.strip()
    if not valid_ticket_number(number):
        raise CaseConflict("a ticket number is 1-64 letters, digits or ._/#- characters, as 21Vianet gave it")
    rec = find_case(fs, customer_id, case_id)
    if rec is None or rec.service_request is None:
        raise CaseNotFound(f"no service request for customer {customer_id}'s case {case_id or ''}: raise it first")
    before = rec.service_request.ticket_number

    def edit(sr: ServiceRequestRecord) -> ServiceRequestRecord | None:
        if sr.ticket_number == number and not note:
            return None
        text = f"ticket {number}" + (f" (was {sr.ticket_number})" if sr.ticket_number not in (None, number) else "")
        upd = RequestUpdate(at=now, by=by, status="filed", note=f"{text}: {note}" if note else text)
        return sr.model_copy(update={"ticket_number": number, "ticket_status": sr.ticket_status or "open",
                                     "ticket_recorded_at": now, "ticket_recorded_by": by,
                                     "status": "filed" if sr.status != "closed" else sr.status,
                                     "updates": [*sr.updates, upd]})

    updated = change_request(fs, customer_id, rec.case.case_id, edit)
    if updated is None:
        return rec.service_request
    assert updated.service_request is not None
    if updated.case.is_open:
        fs.cases.update(customer_id, CURRENT, lambda cur: cur.model_copy(update={"case": record_action(
            cur.case, f"service request filed with 21Vianet: ticket {number}", now, by=by)})
            if cur and cur.case.case_id == rec.case.case_id and cur.case.is_open else None)
    ctx.audit.record(AuditEntry(customer_id=customer_id, action="fraud.service_request.ticket", actor=by, at=now,
                                reason=f"21Vianet ticket {number} for case {rec.case.case_id}" + (
                                    f": {note}" if note else ""),
                                evidence={"case_id": rec.case.case_id, "ticket": number, "previous": before}))
    again = find_case(fs, customer_id, rec.case.case_id)  # with the timeline entry, if one was added
    return again.service_request if again is not None and again.service_request else updated.service_request


def track_update(ctx: Ports, customer_id: str, status: str, note: str, by: str,
                 now: datetime | None = None, case_id: str | None = None) -> ServiceRequestRecord:
    """Record the 21Vianet ticket's status (open, attention_needed, closed) as the portal shows it (audited); on
    the customer's current case, or on ``case_id``."""
    fs = ctx.fraud
    now = now or utcnow()
    if status not in TICKET_STATUSES:
        raise CaseConflict(f"status must be one of {', '.join(TICKET_STATUSES)} (the ticket's status in the portal)")
    rec = find_case(fs, customer_id, case_id)
    if rec is None or rec.service_request is None:
        raise CaseNotFound(f"no service request for customer {customer_id}'s case")
    if rec.service_request.ticket_number is None:
        raise CaseConflict("record the 21Vianet ticket number first (service-request/ticket)")

    def edit(sr: ServiceRequestRecord) -> ServiceRequestRecord:
        upd = RequestUpdate(at=now, by=by, status=status, note=note)
        return sr.model_copy(update={"ticket_status": status, "status": "closed" if status == "closed" else "filed",
                                     "updates": [*sr.updates, upd]})

    updated = change_request(fs, customer_id, rec.case.case_id, edit)
    if updated is None or updated.service_request is None:
        raise CaseConflict("the case changed while recording the ticket status; try again")
    ctx.audit.record(AuditEntry(customer_id=customer_id, action="fraud.service_request.status", actor=by, at=now,
                                reason=f"ticket {updated.service_request.ticket_number}: {status}"
                                       + (f": {note}" if note else ""),
                                evidence={"case_id": rec.case.case_id, "status": status,
                                          "ticket": updated.service_request.ticket_number}))
    return updated.service_request


def find_case(fs: FraudStores, customer_id: str, case_id: str | None = None) -> CaseRecord | None:
    """The customer's current case, or its case ``case_id`` (current or archived)."""
    rec = fs.current(customer_id)
    if case_id is None or (rec is not None and rec.case.case_id == case_id):
        return rec
    return fs.cases.get(customer_id, case_id)


def case_ref(ref: str) -> tuple[str, str | None]:
    """(customer id, case id) from what an operator typed: a customer id or a case id ``fraud-<customer>-<time>``."""
    ref = ref.strip()
    if ref.lower().startswith("fraud-") and ref.count("-") >= 2:
        return ref[len("fraud-"):].rsplit("-", 1)[0].lower(), ref
    return ref.lower(), None
