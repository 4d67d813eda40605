"""Operator HTTP actions (function-key protected). Every change names its actor: the App Service
authentication principal when present, else the ``X-Actor`` header."""

from __future__ import annotations

import azure.functions as func

from functions._http import actor, error, handle_errors, json_body, json_response
from shared.clock import utcnow

bp = func.Blueprint()


def _who(req: func.HttpRequest) -> tuple[str | None, func.HttpResponse | None]:
    who = actor(req)
    if not who:
        return None, error(400, "say who is acting: send an X-Actor header (or sign in through App Service auth)")
    return who, None


@bp.route(route="customers/{customer_id}/status", methods=["GET"])
def customer_status(req: func.HttpRequest) -> func.HttpResponse:
    from shared.context import get_context
    from shared.services.operators import customer_status as status

    return handle_errors(lambda: json_response(status(get_context(), req.route_params["customer_id"])))


@bp.route(route="customers/{customer_id}/actions/{action}", methods=["POST"])
def manual_action(req: func.HttpRequest) -> func.HttpResponse:
    """Body: {"reason": "...", "subscription_ids": [...], "request_id": "..."} (request_id makes retries safe)."""
    from shared.context import get_context
    from shared.services.operators import ManualAction, manual_enforcement

    if req.route_params["action"] not in ("suspend", "reactivate"):
        return error(404, "action must be suspend or reactivate")
    who, bad = _who(req)
    data, bad_json = json_body(req)
    if bad or bad_json:
        return bad or bad_json  # type: ignore[return-value]

    def run() -> func.HttpResponse:
        body = ManualAction.model_validate(data if isinstance(data, dict) else {})
        request = manual_enforcement(get_context(), req.route_params["customer_id"],
                                     req.route_params["action"], body, who or "")
        return json_response({"queued": request.model_dump(mode="json")}, 202)

    return handle_errors(run)


@bp.route(route="customers/{customer_id}/overrides/{kind}", methods=["POST", "DELETE"])
def override(req: func.HttpRequest) -> func.HttpResponse:
    """POST sets (exemption: reason, approver, expires_on; promise: amount {amount, currency},
    promised_date; hold: reason, until); DELETE lifts (query ``reason``)."""
    from shared.context import get_context
    from shared.services.operators import lift_override, set_override

    cid, kind = req.route_params["customer_id"], req.route_params["kind"]
    if kind not in ("exemption", "promise", "hold"):
        return error(404, "override kind must be exemption, promise or hold")
    who, bad = _who(req)
    if bad:
        return bad
    if req.method == "DELETE":
        reason = req.params.get("reason")
        if not reason:
            return error(400, "say why: add ?reason=... to lift an override")
        return handle_errors(lambda: json_response(
            lift_override(get_context(), cid, kind, who or "", reason).model_dump(mode="json")))
    data, bad_json = json_body(req)
    if bad_json:
        return bad_json
    if not isinstance(data, dict):
        return error(400, "expected a JSON object")
    return handle_errors(lambda: json_response(
        set_override(get_context(), cid, kind, data, who or "").model_dump(mode="json"), 201))


@bp.route(route="customers/{customer_id}/case/migrate", methods=["POST"])
def migrate_case(req: func.HttpRequest) -> func.HttpResponse:
    """Body: {"reason": "..."}: move the open case to the current policy version."""
    from shared.context import get_context
    from shared.services.operators import migrate_case as migrate

    who, bad = _who(req)
    data, bad_json = json_body(req)
    if bad or bad_json:
        return bad or bad_json  # type: ignore[return-value]
    reason = data.get("reason") if isinstance(data, dict) else None
    if not reason:
        return error(400, 'say why: {"reason": "..."}')
    return handle_errors(lambda: json_response(
        migrate(get_context(), req.route_params["customer_id"], who or "", str(reason)).model_dump(mode="json")))


@bp.route(route="customers/{customer_id}/disputes", methods=["POST"])
def record_dispute(req: func.HttpRequest) -> func.HttpResponse:
    """Body: {"invoice_id": "...", "amount": "123.00" (omit for the whole invoice), "reason": "...",
    "event_id": "..." (optional; makes retries safe)}. Recorded through the payment-events path."""
    import uuid

    from shared.context import get_context
    from shared.services.payments import InvalidEvent, enqueue_events, parse_payment_event

    who, bad = _who(req)
    data, bad_json = json_body(req)
    if bad or bad_json:
        return bad or bad_json  # type: ignore[return-value]
    if not isinstance(data, dict):
        return error(400, "expected a JSON object")
    cid = req.route_params["customer_id"]
    if get_context().stores.ledger(cid) is None:
        return error(404, f"customer {cid} has no ledger (no payment events received)")
    payload = {**data, "event_id": data.get("event_id") or f"dispute-{uuid.uuid4().hex}", "customer_id": cid,
               "occurred_at": utcnow().isoformat()}  # the URL names the customer, never the body
    try:
        event = parse_payment_event("invoice.disputed", payload)
    except InvalidEvent as exc:
        return error(400, str(exc))
    ids = enqueue_events(get_context(), [event], source=who or "operator")
    return json_response({"accepted": ids}, 202)


@bp.route(route="collections/preview", methods=["GET"])
def preview(req: func.HttpRequest) -> func.HttpResponse:
    """What a sweep would do now, or at ``?at=YYYY-MM-DD`` (that day's sweep, at the sweep's time of day), with
    the guards the sweep would apply; nothing is stored or sent."""
    from shared.clock import utcnow
    from shared.context import get_context
    from shared.services.forecast import preview_guards, preview_moment
    from shared.services.operators import decision_row, portfolio_preview

    try:
        at = preview_moment(get_context(), req.params.get("at"))
    except ValueError:
        return error(400, "at must be YYYY-MM-DD or an ISO timestamp")
    decisions = portfolio_preview(get_context(), at)
    rows = [decision_row(d) for d in decisions if d.stage or d.actions or d.pending_approval]
    return json_response({"at": at.isoformat() if at else None, "customers": len(decisions), "items": rows,
                          "guards": preview_guards(get_context(), decisions, at or utcnow())})


@bp.route(route="collections/sweep", methods=["POST"])
def run_sweep(req: func.HttpRequest) -> func.HttpResponse:
    """Start a sweep now (the timer does this on SWEEP_SCHEDULE)."""
    from shared.context import get_context
    from shared.services.sweep import start_sweep

    run = start_sweep(get_context())
    return json_response(run.model_dump(mode="json"), 202)


@bp.route(route="collections/runs", methods=["GET"])
def sweep_runs(req: func.HttpRequest) -> func.HttpResponse:
    """The latest sweeps, newest first (``?limit=``, default 10): what last night's run did."""
    from shared.context import get_context

    raw = req.params.get("limit", "10")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        return error(400, "limit must be a whole number from 1 to 100")
    runs = sorted(get_context().stores.runs.query("RowKey eq 'run'"), key=lambda r: r.as_of, reverse=True)
    return json_response({"items": [r.model_dump(mode="json") for r in runs[:int(raw)]]})


@bp.route(route="collections/runs/{run_id}", methods=["GET"])
def sweep_run(req: func.HttpRequest) -> func.HttpResponse:
    from shared.context import get_context

    run = get_context().stores.runs.get(req.route_params["run_id"], "run")
    return json_response(run.model_dump(mode="json")) if run else error(404, "no such run")


@bp.route(route="approvals", methods=["GET"])
def approvals(req: func.HttpRequest) -> func.HttpResponse:
    from shared.context import get_context
    from shared.services.operators import list_approvals

    status = req.params.get("status", "pending")
    if status not in ("pending", "decided"):
        return error(400, "status must be pending or decided")
    items = list_approvals(get_context(), status)
    return json_response({"items": [a.model_dump(mode="json") for a in items]})


@bp.route(route="approvals/decide", methods=["POST"])
def decide_approval(req: func.HttpRequest) -> func.HttpResponse:
    """Body: {"key": "<approval key>", "decision": "approve" | "reject", "note": "..."}."""
    from shared.context import get_context
    from shared.services.operators import decide_approval as decide

    who, bad = _who(req)
    data, bad_json = json_body(req)
    if bad or bad_json:
        return bad or bad_json  # type: ignore[return-value]
    if not isinstance(data, dict) or not data.get("key") or data.get("decision") not in ("approve", "reject"):
        return error(400, 'expected {"key": "...", "decision": "approve" | "reject", "note": "..."}')
    return handle_errors(lambda: json_response(decide(get_context(), str(data["key"]), data["decision"] == "approve",
                                                who or "", str(data.get("note", ""))).model_dump(mode="json")))
