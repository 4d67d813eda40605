"""Suspension deadlines on demand (the sweep timer runs the same check daily)."""

from __future__ import annotations

import azure.functions as func

from functions._http import authorize, handle_errors_async, json_response, no_body
from shared.permissions import Permission

bp = func.Blueprint()


@bp.route(route="collections/suspension-deadlines", methods=["GET", "POST"])
async def suspension_deadlines(req: func.HttpRequest) -> func.HttpResponse:
    """GET: suspended subscriptions near their data-deletion date, term end or Azure reactivation limit (nothing
    sent). POST: the same check, alerting the team once per deadline."""
    _, refused = authorize(req, Permission.READ if req.method == "GET" else Permission.ACT)
    if refused:
        return refused
    from shared.context import get_context
    from shared.services.deadlines import check_suspension_deadlines

    bad = no_body(req)
    if bad:
        return bad

    async def run() -> func.HttpResponse:  # storage or Partner Center down: the one error mapper answers
        report = await check_suspension_deadlines(get_context(), send=req.method == "POST")
        return json_response(report.model_dump(mode="json"))

    return await handle_errors_async(run)
