"""The operators' case API as use cases: each reads or changes a case and answers with the case as the API shows
it, i.e. the record plus its response time and whether that met Microsoft's one-hour guidance, on the app's clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from shared.clock import utcnow
from shared.services.fraud.cases import CaseNotFound, add_note, list_cases, resolve_case, sync_suspensions
from shared.services.fraud.containment import contain
from shared.services.fraud.requests import raise_service_request
from shared.services.fraud.store import CaseRecord

if TYPE_CHECKING:
    from shared.ports import Ports


def case_json(rec: CaseRecord, now: datetime) -> dict[str, Any]:
    """The case as the API shows it (pure)."""
    out: dict[str, Any] = rec.model_dump(mode="json")
    rt = rec.case.response_time
    out["response_time_minutes"] = None if rt is None else round(rt.total_seconds() / 60, 1)
    out["within_guidance"] = rec.case.within_guidance(now)
    return out


def case_list(ctx: Ports, status: str | None = None) -> dict[str, Any]:
    """``GET fraud/cases``: current cases, newest change first (open and investigating unless ``status`` says)."""
    now = utcnow()
    return {"items": [case_json(r, now) for r in list_cases(ctx, status)]}


def case_detail(ctx: Ports, customer_id: str) -> dict[str, Any]:
    """``GET fraud/cases/{id}``: the current case, suspensions read back onto it first, and its earlier cases."""
    rec = sync_suspensions(ctx, customer_id)
    if rec is None:
        raise CaseNotFound(f"no fraud case for customer {customer_id}")
    earlier = [r.case.case_id for r in ctx.fraud.case_history(customer_id) if r.case.case_id != rec.case.case_id]
    return {**case_json(rec, utcnow()), "earlier_cases": earlier}


def resolve(ctx: Ports, customer_id: str, label: Literal["legitimate", "fraud"], by: str, note: str = "",
            suppress_days: int = 0) -> dict[str, Any]:
    """``POST .../resolve``: the closed case and the reactivation it queued (legitimate), if any."""
    rec, request = resolve_case(ctx, customer_id, label, by, note, suppress_days=suppress_days)
    return {**case_json(rec, utcnow()), "reactivation": request.model_dump(mode="json") if request else None}


def note(ctx: Ports, customer_id: str, text: str, by: str) -> dict[str, Any]:
    """``POST .../notes``."""
    return case_json(add_note(ctx, customer_id, text, by), utcnow())


async def approve_containment(ctx: Ports, customer_id: str, by: str, note: str = "") -> dict[str, Any]:
    """``POST .../contain``: approve the pending containment, or contain now what the signals point at."""
    return case_json(await contain(ctx, customer_id, by, note=note), utcnow())


def service_request(ctx: Ports, customer_id: str, by: str, note: str = "") -> dict[str, Any]:
    """``POST .../service-request``: queue the case's request (once per case; a repeat adds the note)."""
    record, queued = raise_service_request(ctx, customer_id, by, note)
    return {"queued": queued, "service_request": record.model_dump(mode="json")}
