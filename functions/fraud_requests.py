"""The 21Vianet service request for operators: the evidence pack to file in the Partner Center portal, and the
ticket 21Vianet opened (number and status). Raising the request stays in functions/fraud.py. Each function parses
its request and calls one use case (imported in the body)."""

from __future__ import annotations

import azure.functions as func

from functions._http import (
    authorize,
    error,
    handle_errors,
    handle_errors_async,
    json_response,
    operator_request,
    route_customer,
)
from shared.permissions import Permission

bp = func.Blueprint()


@bp.route(route="fraud/cases/{customer_id}/service-request/ticket", methods=["POST"])
def fraud_service_request_ticket(req: func.HttpRequest) -> func.HttpResponse:
    """Body: {"number": "<21Vianet ticket number>", "note": "...", "case_id": "<earlier case>"}: the ticket the
    operator filed in the portal (on the current case unless ``case_id`` names an earlier one)."""
    from shared.context import get_context
    from shared.services.fraud import record_ticket
    from shared.services.fraud.tickets import valid_ticket_number

    cid, who, data, bad = operator_request(req, {"number", "note", "case_id"})
    if bad:
        return bad
    number = str(data.get("number", "")).strip()
    if not valid_ticket_number(number):
        return error(400, 'expected {"number": "<21Vianet ticket number>"}: 1-64 letters, digits or ._/#-')
    ctx = get_context()
    case_id = str(data["case_id"]) if data.get("case_id") else None
    return handle_errors(lambda: json_response(record_ticket(
        ctx, cid, number, who,
        str(data.get("note", "")), case_id=case_id).model_dump(mode="json")))


@bp.route(route="fraud/cases/{customer_id}/service-request/status", methods=["POST"])
def fraud_service_request_status(req: func.HttpRequest) -> func.HttpResponse:
    """Body: {"status": "open" | "attention_needed" | "closed", "note": "...", "case_id": "<earlier case>"}: the
    ticket's status in the portal."""
    from shared.context import get_context
    from shared.services.fraud import track_update

    cid, who, data, bad = operator_request(req, {"status", "note", "case_id"})
    if bad:
        return bad
    if "status" not in data:
        return error(400, 'expected {"status": "open" | "attention_needed" | "closed"}')
    ctx = get_context()
    case_id = str(data["case_id"]) if data.get("case_id") else None
    return handle_errors(lambda: json_response(track_update(
        ctx, cid, str(data["status"]),
        str(data.get("note", "")), who, case_id=case_id).model_dump(mode="json")))


@bp.route(route="fraud/cases/{customer_id}/evidence", methods=["GET"])
async def fraud_evidence(req: func.HttpRequest) -> func.HttpResponse:
    """The evidence pack to file with 21Vianet: ``?format=txt`` (default; zh-CN then English) or ``json``,
    ``?lang=both|zh-CN|en``, ``?case=<case id>`` for an earlier case. Served as an attachment."""
    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    cid, bad_id = route_customer(req)
    if bad_id:
        return bad_id
    from shared.context import get_context
    from shared.services.fraud.srpack import LANGUAGES, case_evidence

    fmt, lang = req.params.get("format", "txt"), req.params.get("lang", "both")
    if fmt not in ("txt", "json"):
        return error(400, "format must be txt or json")
    if lang not in ("both", *LANGUAGES):
        return error(400, "lang must be both, zh-CN or en")

    async def run() -> func.HttpResponse:
        doc = await case_evidence(get_context(), cid, req.params.get("case"))
        headers = {"Content-Disposition": f'attachment; filename="{doc.filename(fmt)}"',
                   "X-CSPGuard-Containment": doc.containment_status}
        if fmt == "json":
            return func.HttpResponse(doc.as_json(), status_code=200, mimetype="application/json", charset="utf-8",
                                     headers=headers)
        langs = LANGUAGES if lang == "both" else (lang,)
        return func.HttpResponse(doc.as_text(langs), status_code=200, mimetype="text/plain", charset="utf-8",
                                 headers=headers)

    return await handle_errors_async(run)
