"""Operator HTTP actions. Each route checks the caller's role (shared/auth.py); every change names its actor,
the signed-in principal (locally also ``X-Actor``), never a name in the body."""

from __future__ import annotations

import azure.functions as func

from functions._http import (
    authorize,
    error,
    handle_errors,
    handle_errors_async,
    json_body,
    json_response,
    no_body,
    only_fields,
    operator_request,
    query_int,
    route_customer,
)
from shared.permissions import Permission

bp = func.Blueprint()


def _who(req: func.HttpRequest, permission: Permission = Permission.ACT) -> tuple[str | None, func.HttpResponse | None]:
    found, refused = authorize(req, permission)
    return (found.actor if found else None), refused


@bp.route(route="customers/{customer_id}/status", methods=["GET"])
def customer_status(req: func.HttpRequest) -> func.HttpResponse:
    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    from shared.context import get_context
    from shared.services.operators import customer_status as status

    cid, bad = route_customer(req)
    return bad or handle_errors(lambda: json_response(status(get_context(), cid)))


MANUAL_FIELDS = frozenset({"reason", "subscription_ids", "all_subscriptions", "request_id"})
OVERRIDE_FIELDS = {"exemption": frozenset({"reason", "approver", "starts_on", "expires_on"}),
                   "promise": frozenset({"amount", "promised_date", "grace_days"}),
                   "hold": frozenset({"reason", "until"})}


@bp.route(route="customers/{customer_id}/actions/{action}", methods=["POST"])
async def manual_action(req: func.HttpRequest) -> func.HttpResponse:
    """Body: {"reason": "...", "subscription_ids": [...] | "all_subscriptions": true, "request_id": "..."}
    (request_id makes retries safe). Subscription ids are checked against Partner Center first."""
    from shared.context import get_context
    from shared.services.operators import manual_action as act

    if req.route_params["action"] not in ("suspend", "reactivate"):
        return error(404, "action must be suspend or reactivate")
    cid, who, data, bad = operator_request(req, MANUAL_FIELDS, body_required=True)
    if bad:
        return bad

    async def run() -> func.HttpResponse:
        request = await act(get_context(), cid, req.route_params["action"], data, who or "")
        return json_response({"queued": request.model_dump(mode="json")}, 202)

    return await handle_errors_async(run)


@bp.route(route="customers/{customer_id}/overrides/{kind}", methods=["POST", "DELETE"])
def override(req: func.HttpRequest) -> func.HttpResponse:
    """POST sets (exemption: reason, approver, expires_on; promise: amount {amount, currency},
    promised_date; hold: reason, until); DELETE lifts (query ``reason``)."""
    from shared.context import get_context
    from shared.services.operators import lift_override, set_override

    kind = req.route_params["kind"]
    if kind not in ("exemption", "promise", "hold"):
        return error(404, "override kind must be exemption, promise or hold")
    cid, bad_id = route_customer(req)
    who, bad = _who(req)
    if bad_id or bad:
        return bad or bad_id  # type: ignore[return-value]  # sign-in first
    if req.method == "DELETE":
        reason = req.params.get("reason")
        if not reason:
            return error(400, "say why: add ?reason=... to lift an override")
        return handle_errors(lambda: json_response(
            lift_override(get_context(), cid, kind, who or "", reason).model_dump(mode="json")))
    data, bad_json = json_body(req)
    if bad_json:
        return bad_json
    unknown = only_fields(data, OVERRIDE_FIELDS[kind])  # who acted and when are the platform's, never the body's
    if unknown:
        return unknown
    return handle_errors(lambda: json_response(
        set_override(get_context(), cid, kind, data, who or "").model_dump(mode="json"), 201))


@bp.route(route="customers/{customer_id}/case/migrate", methods=["POST"])
def migrate_case(req: func.HttpRequest) -> func.HttpResponse:
    """Body: {"reason": "..."}: move the open case to the current policy version."""
    from shared.context import get_context
    from shared.services.operators import migrate_case as migrate

    cid, who, data, bad = operator_request(req, {"reason"}, body_required=True)
    if bad:
        return bad
    reason = data.get("reason")
    if not reason or not isinstance(reason, str):
        return error(400, 'say why: {"reason": "..."}')
    return handle_errors(lambda: json_response(migrate(get_context(), cid, who or "", reason).model_dump(mode="json")))


@bp.route(route="customers/{customer_id}/disputes", methods=["POST"])
def record_dispute(req: func.HttpRequest) -> func.HttpResponse:
    """Body: {"invoice_id": "...", "amount": "123.00" (omit for the whole invoice), "reason": "...",
    "event_id": "..." (optional; makes retries safe)}. Recorded through the payment-events path."""
    from shared.context import get_context
    from shared.services.payments import record_dispute as dispute

    cid, who, data, bad = operator_request(req, {"invoice_id", "amount", "reason", "event_id"}, body_required=True)
    if bad:
        return bad
    return handle_errors(lambda: json_response({"accepted": dispute(get_context(), cid, data, who or "")}, 202))


@bp.route(route="collections/preview", methods=["GET"])
def preview(req: func.HttpRequest) -> func.HttpResponse:
    """What a sweep would do now, or at ``?at=YYYY-MM-DD`` (that day's sweep, at the sweep's time of day), with
    the guards the sweep would apply; nothing is stored or sent."""
    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    from shared.context import get_context
    from shared.services.previews import sweep_preview

    return handle_errors(lambda: json_response(sweep_preview(get_context(), req.params.get("at"))))


@bp.route(route="collections/sweep", methods=["POST"])
def run_sweep(req: func.HttpRequest) -> func.HttpResponse:
    """Start a sweep now (the timer does this on SWEEP_SCHEDULE)."""
    from shared.context import get_context
    from shared.services.sweep import start_sweep

    who, bad = _who(req)
    if bad:
        return bad
    bad = no_body(req)
    if bad:
        return bad
    return handle_errors(lambda: json_response(
        start_sweep(get_context(), requested_by=who or "").model_dump(mode="json"), 202))


@bp.route(route="collections/runs", methods=["GET"])
def sweep_runs(req: func.HttpRequest) -> func.HttpResponse:
    """The latest sweeps, newest first (``?limit=``, default 10): what last night's run did."""
    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    from shared.context import get_context
    from shared.services.sweep import recent_runs

    limit = query_int(req, "limit", 10, 1, 100)
    if limit is None:
        return error(400, "limit must be a whole number from 1 to 100")
    return handle_errors(lambda: json_response(
        {"items": [r.model_dump(mode="json") for r in recent_runs(get_context(), limit)]}))


@bp.route(route="collections/runs/{run_id}", methods=["GET"])
def sweep_run(req: func.HttpRequest) -> func.HttpResponse:
    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    from shared.context import get_context
    from shared.services.sweep import sweep_run as run

    return handle_errors(lambda: json_response(run(get_context(), req.route_params["run_id"]).model_dump(mode="json")))


@bp.route(route="approvals", methods=["GET"])
def approvals(req: func.HttpRequest) -> func.HttpResponse:
    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    from shared.context import get_context
    from shared.services.operators import list_approvals

    status = req.params.get("status", "pending")
    if status not in ("pending", "decided"):
        return error(400, "status must be pending or decided")
    return handle_errors(lambda: json_response(
        {"items": [a.model_dump(mode="json") for a in list_approvals(get_context(), status)]}))


@bp.route(route="approvals/decide", methods=["POST"])
def decide_approval(req: func.HttpRequest) -> func.HttpResponse:
    """Body: {"key": "<approval key>", "decision": "approve" | "reject", "note": "..."}."""
    from shared.context import get_context
    from shared.services.operators import decide_approval as decide

    who, bad = _who(req, Permission.DECIDE)
    data, bad_json = json_body(req)
    if bad or bad_json:
        return bad or bad_json  # type: ignore[return-value]
    unknown = only_fields(data, {"key", "decision", "note"})
    if unknown:
        return unknown
    if not data.get("key") or data.get("decision") not in ("approve", "reject"):
        return error(400, 'expected {"key": "...", "decision": "approve" | "reject", "note": "..."}')
    return handle_errors(lambda: json_response(decide(get_context(), str(data["key"]), data["decision"] == "approve",
                                                who or "", str(data.get("note", ""))).model_dump(mode="json")))
