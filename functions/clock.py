"""GET /api/clock and POST /api/clock: the app's clock; moving it works only in the local stack."""

from __future__ import annotations

import azure.functions as func

from functions._http import authorize, error, handle_errors, json_body, json_response
from shared.permissions import Permission

bp = func.Blueprint()


@bp.route(route="clock", methods=["GET", "POST"])
def clock(req: func.HttpRequest) -> func.HttpResponse:
    """GET shows the clock; POST {"set": "2026-12-20T09:00+08:00"} or {"advance": "8d"} moves it forward
    (409 where time is real: always in Azure)."""
    _, refused = authorize(req, Permission.READ if req.method == "GET" else Permission.ACT)
    if refused:
        return refused
    from shared import clock as app_clock
    from shared.context import get_context

    settings = get_context().settings
    if req.method == "GET":
        return json_response(app_clock.describe(app_clock.for_file(settings.local_clock_file)))
    data, bad = json_body(req)
    if bad:
        return bad
    if not isinstance(data, dict) or set(data) - {"set", "advance"}:
        return error(400, 'expected {"set": "2026-12-20T09:00+08:00"} or {"advance": "8d"}')
    return handle_errors(lambda: json_response(  # NotMovable: 409 (real time), ClockError: 400
        app_clock.move(settings.local_clock_file, to=data.get("set"), by=data.get("advance"))))
