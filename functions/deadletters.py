"""Operators list and replay messages that failed validation (signed-in operators; see shared/auth.py)."""

import azure.functions as func

from functions._http import authorize, error, json_body, json_response
from shared.auth import Permission

bp = func.Blueprint()


@bp.route(route="dead-letters", methods=["GET"])
def list_dead_letters(req: func.HttpRequest) -> func.HttpResponse:
    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    from shared.context import get_context

    letters = get_context().deadletters.list(req.params.get("queue"),
                                             include_replayed=req.params.get("all") == "true")
    return json_response({"items": [d.model_dump(mode="json") for d in letters], "count": len(letters)})


@bp.route(route="dead-letters/{queue}/{letter_id}/replay", methods=["POST"])
def replay_dead_letter(req: func.HttpRequest) -> func.HttpResponse:
    """Replay as stored, or with a corrected body given as {"body": "<envelope JSON>"}."""
    from shared.context import get_context

    who, refused = authorize(req, Permission.ACT)
    if who is None:
        return refused  # type: ignore[return-value]
    body = None
    if req.get_body():
        data, bad = json_body(req)
        if bad:
            return bad
        if not isinstance(data, dict) or not isinstance(data.get("body", ""), str):
            return error(400, 'expected {"body": "<corrected message text>"} or an empty body')
        body = data.get("body")
    ctx = get_context()
    try:
        letter = ctx.deadletters.replay(req.route_params["queue"], req.route_params["letter_id"], ctx.queues, body)
    except KeyError as exc:
        return error(404, str(exc.args[0]))
    except ValueError as exc:
        return error(400, str(exc))
    return json_response(letter.model_dump(mode="json"))
