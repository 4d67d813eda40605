"""Operators list, replay and discard messages the app could not process (signed-in operators; see
shared/auth.py); a timer drains the host's poison queues into the same list."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from functions._http import authorize, error, handle_errors, json_body, json_response
from shared.permissions import Permission

bp = func.Blueprint()
STATUSES = ("waiting", "replayed", "discarded", "all")


@bp.timer_trigger(arg_name="timer", schedule="0 * * * * *", run_on_startup=False)
def drain_poison_queues(timer: func.TimerRequest) -> None:
    """Every minute: what the host moved to <queue>-poison is listed with its reason and blocks its customer."""
    from shared.context import get_context
    from shared.services.deadletters import drain_poison

    drain_poison(get_context())


@bp.route(route="dead-letters", methods=["GET"])
def list_dead_letters(req: func.HttpRequest) -> func.HttpResponse:
    """``?queue=`` one queue; ``?status=waiting`` (default) | replayed | discarded | all (``?all=true`` = all)."""
    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    from shared.context import get_context
    from shared.services.deadletters import list_letters

    status = "all" if req.params.get("all") == "true" else req.params.get("status", "waiting")
    if status not in STATUSES:
        return error(400, f"status must be one of {', '.join(STATUSES)}")
    return handle_errors(lambda: json_response(list_letters(get_context(), req.params.get("queue"), status)))


@bp.route(route="dead-letters/{queue}/{letter_id}", methods=["GET"])
def get_dead_letter(req: func.HttpRequest) -> func.HttpResponse:
    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    from shared.context import get_context
    from shared.services.deadletters import get_letter

    return handle_errors(lambda: json_response(get_letter(get_context(), req.route_params["queue"],
                                                          req.route_params["letter_id"])))


@bp.route(route="dead-letters/{queue}/{letter_id}/{operation}", methods=["POST"])
def settle_dead_letter(req: func.HttpRequest) -> func.HttpResponse:
    """``replay``: {} or {"body": "<corrected envelope JSON>"}; ``discard``: {"reason": "..."}. Each once, audited,
    naming the signed-in actor."""
    from shared.context import get_context
    from shared.services.deadletters import discard, letter_view, replay

    operation = req.route_params["operation"]
    if operation not in ("replay", "discard"):
        return error(404, "operation must be replay or discard")
    found, refused = authorize(req, Permission.ACT)
    if found is None:
        return refused  # type: ignore[return-value]
    who = found.actor
    data: Any = {}
    if req.get_body():
        data, bad = json_body(req)
        if bad:
            return bad
    allowed = {"replay": {"body"}, "discard": {"reason"}}[operation]
    if not isinstance(data, dict):
        return error(400, "expected a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        return error(400, f"unknown field(s): {', '.join(unknown)}; {operation} accepts {', '.join(sorted(allowed))}")
    value = data.get(next(iter(allowed)))
    if value is not None and not isinstance(value, str):
        return error(400, f"{next(iter(allowed))} must be a string (the corrected message text)"
                     if operation == "replay" else "reason must be a string")
    queue, letter_id = req.route_params["queue"], req.route_params["letter_id"]

    def run() -> func.HttpResponse:  # no such letter: NotFoundError or the store's EntityNotFound, 404
        ctx = get_context()
        letter = (replay(ctx, queue, letter_id, who, value) if operation == "replay"
                  else discard(ctx, queue, letter_id, who, value or ""))
        return json_response(letter_view(letter))

    return handle_errors(run)

