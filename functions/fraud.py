"""Fraud flow: the usage-scan timer and worker, the service-request worker, and the operators' case API.

Each function parses its trigger and calls one use case of ``shared.services.fraud`` (imported in the body:
cold start imports only the blueprints).
"""

from __future__ import annotations

import logging

import azure.functions as func

from functions._http import (
    authorize,
    error,
    handle_errors,
    handle_errors_async,
    json_response,
    no_body,
    operator_request,
    route_customer,
)
from functions._queue import receive, send_or_park
from shared.messaging import Queue
from shared.permissions import Permission

bp = func.Blueprint()
log = logging.getLogger("cspguard.functions.fraud")
STATUSES = ("open", "investigating", "resolved_legitimate", "resolved_fraud", "all")


@bp.timer_trigger(arg_name="timer", schedule="%FRAUD_SCAN_SCHEDULE%", run_on_startup=False)
def fraud_scan_timer(timer: func.TimerRequest) -> None:
    from shared.context import get_context
    from shared.services.fraud import start_scan

    if timer.past_due:
        log.warning("fraud scan is running late")
    run = start_scan(get_context())
    log.info("fraud scan %s queued", run.run_id)


@bp.queue_trigger(arg_name="msg", queue_name=Queue.FRAUD_SCAN.value, connection="AzureWebJobsStorage")
async def fraud_scan_work(msg: func.QueueMessage) -> None:
    from shared.context import get_context
    from shared.messaging.kinds import FRAUD_SCAN
    from shared.observability import correlation_scope
    from shared.services.fraud.scan import work
    from shared.services.messages import FraudScanItem

    parsed = receive(Queue.FRAUD_SCAN, msg, {FRAUD_SCAN: FraudScanItem})
    if parsed is None:
        return
    envelope, item = parsed
    with correlation_scope(envelope.correlation_id):
        run = await work(get_context(), item)  # type: ignore[arg-type]
        log.info("fraud scan %s: %s", run.run_id, run.status)


@bp.queue_trigger(arg_name="msg", queue_name=Queue.SERVICE_REQUESTS.value, connection="AzureWebJobsStorage")
async def fraud_service_request(msg: func.QueueMessage) -> None:
    from shared.context import get_context
    from shared.messaging.kinds import SERVICE_REQUEST
    from shared.observability import correlation_scope
    from shared.services.fraud import deliver_service_request
    from shared.services.messages import ServiceRequestMessage

    parsed = receive(Queue.SERVICE_REQUESTS, msg, {SERVICE_REQUEST: ServiceRequestMessage})
    if parsed is None:
        return
    envelope, request = parsed
    with correlation_scope(envelope.correlation_id) as cid:
        result = await send_or_park(Queue.SERVICE_REQUESTS, msg, envelope, deliver_service_request(
            get_context(), request, correlation_id=cid))  # type: ignore[arg-type]
        log.info("service request %s: %s", request.case_id, result or "parked")  # type: ignore[attr-defined]


@bp.route(route="fraud/scan", methods=["POST"])
def fraud_scan_now(req: func.HttpRequest) -> func.HttpResponse:
    """Queue a usage scan now (the timer does this on FRAUD_SCAN_SCHEDULE); poll GET fraud/scans/{run_id}."""
    from shared.context import get_context
    from shared.services.fraud import start_scan

    found, refused = authorize(req, Permission.ACT)
    if found is None:
        return refused  # type: ignore[return-value]
    bad = no_body(req)
    if bad:
        return bad
    return handle_errors(lambda: json_response(
        start_scan(get_context(), requested_by=found.actor).model_dump(mode="json"), 202))


@bp.route(route="fraud/scans/{run_id}", methods=["GET"])
def fraud_scan_run(req: func.HttpRequest) -> func.HttpResponse:
    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    from shared.context import get_context
    from shared.services.fraud.scan import scan_run

    def run() -> func.HttpResponse:
        found = scan_run(get_context(), req.route_params["run_id"])
        return json_response(found.model_dump(mode="json")) if found else error(404, "no such fraud scan run")

    return handle_errors(run)


@bp.route(route="fraud/cases", methods=["GET"])
def fraud_cases(req: func.HttpRequest) -> func.HttpResponse:
    """``?status=open|investigating|resolved_legitimate|resolved_fraud|all`` (default: open and investigating)."""
    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    from shared.context import get_context
    from shared.services.fraud.views import case_list

    status = req.params.get("status")
    if status is not None and status not in STATUSES:
        return error(400, f"status must be one of {', '.join(STATUSES)}")
    return handle_errors(lambda: json_response(case_list(get_context(), status)))


@bp.route(route="fraud/cases/{customer_id}", methods=["GET"])
def fraud_case(req: func.HttpRequest) -> func.HttpResponse:
    """The customer's current case (suspensions read back first) and its earlier cases."""
    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    from shared.context import get_context
    from shared.services.fraud.views import case_detail

    cid, bad = route_customer(req)
    if bad:
        return bad
    return handle_errors(lambda: json_response(case_detail(get_context(), cid)))


@bp.route(route="fraud/cases/{customer_id}/resolve", methods=["POST"])
def fraud_resolve(req: func.HttpRequest) -> func.HttpResponse:
    """Body: {"label": "legitimate" | "fraud", "note": "...", "suppress_days": 30}; legitimate reactivates what
    the case suspended and suppresses the same signal kinds for ``suppress_days`` (default 30, 0: none)."""
    from shared.context import get_context
    from shared.services.fraud.views import resolve

    cid, who, data, bad = operator_request(req, {"label", "note", "suppress_days"}, Permission.DECIDE)
    if bad:
        return bad
    label = data.get("label")
    if label not in ("legitimate", "fraud"):
        return error(400, 'label must be "legitimate" or "fraud"')
    days = data.get("suppress_days", 30)
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 365:
        return error(400, "suppress_days must be a whole number of days from 0 to 365")
    return handle_errors(lambda: json_response(resolve(get_context(), cid, label, who, str(data.get("note", "")),
                                                       suppress_days=days)))


@bp.route(route="fraud/cases/{customer_id}/notes", methods=["POST"])
def fraud_note(req: func.HttpRequest) -> func.HttpResponse:
    """Body: {"text": "..."}."""
    from shared.context import get_context
    from shared.services.fraud.views import note

    cid, who, data, bad = operator_request(req, {"text"})
    if bad:
        return bad
    text = str(data.get("text", "")).strip()
    if not text:
        return error(400, 'expected {"text": "..."}')
    return handle_errors(lambda: json_response(note(get_context(), cid, text, who), 201))


@bp.route(route="fraud/cases/{customer_id}/service-request", methods=["POST"])
def fraud_service_request_http(req: func.HttpRequest) -> func.HttpResponse:
    """Body (optional): {"note": "..."} raises the case's request (once per case; repeats add the note);
    {"status": "open" | "attention_needed" | "closed", "note": "..."} records the 21Vianet ticket's status."""
    from shared.context import get_context
    from shared.services.fraud import track_update
    from shared.services.fraud.views import service_request

    cid, who, data, bad = operator_request(req, {"note", "status"})
    if bad:
        return bad
    ctx = get_context()
    note = str(data.get("note", ""))
    if "status" in data:
        return handle_errors(lambda: json_response(track_update(ctx, cid, str(data["status"]), note, who)
                                                   .model_dump(mode="json")))

    def run() -> func.HttpResponse:
        out = service_request(ctx, cid, who, note)
        return json_response(out, 202 if out["queued"] else 200)

    return handle_errors(run)


@bp.route(route="fraud/cases/{customer_id}/contain", methods=["POST"])
async def fraud_contain(req: func.HttpRequest) -> func.HttpResponse:
    """Approve the pending containment (or contain now what the signals point at). Body: {"note": "..."}."""
    from shared.context import get_context
    from shared.services.fraud.views import approve_containment

    cid, who, data, bad = operator_request(req, {"note"}, Permission.DECIDE)
    if bad:
        return bad

    async def run() -> func.HttpResponse:  # Partner Center's refusals are answered by functions/_http.py
        return json_response(await approve_containment(get_context(), cid, who, note=str(data.get("note", ""))), 202)

    return await handle_errors_async(run)


@bp.route(route="fraud/customers/{customer_id}/baseline", methods=["POST"])
def fraud_baseline(req: func.HttpRequest) -> func.HttpResponse:
    """Declare what detection should expect: {"expected_monthly_spend": {"amount": "30000", "currency": "CNY"},
    "prepayment": {...}, "planned_changes": [{"starts_on", "ends_on", "expected_factor", "regions", "note"}],
    "onboarded_on": "2026-11-20"} (any of them). Queued as a customer.updated event; 202 with its id."""
    from shared.context import get_context
    from shared.services.fraud.baseline import declare_baseline

    cid, who, data, bad = operator_request(req, {"expected_monthly_spend", "prepayment", "planned_changes",
                                                 "onboarded_on"})
    if bad:
        return bad

    def run() -> func.HttpResponse:  # InvalidBaseline is an InvalidRequest: 400 naming each field
        event = declare_baseline(get_context(), cid, data, who)
        return json_response({"accepted": event.event_id, "event": event.model_dump(mode="json")}, 202)

    return handle_errors(run)
