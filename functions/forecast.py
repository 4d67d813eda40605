"""GET /api/collections/forecast: the next N sweeps simulated from today's data (read-only)."""

from __future__ import annotations

import azure.functions as func

from functions._http import authorize, error, handle_errors, json_response, query_int
from shared.permissions import Permission

bp = func.Blueprint()


@bp.route(route="collections/forecast", methods=["GET"])
def collections_forecast(req: func.HttpRequest) -> func.HttpResponse:
    """``?days=30`` (1-90); ``?format=csv`` for one row per day, customer and action."""
    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    from shared.context import get_context
    from shared.services.forecast import collections_forecast as run
    from shared.services.forecast import csv_rows, to_csv

    days = query_int(req, "days", 30, 1, 90)
    if days is None:
        return error(400, "days must be a whole number from 1 to 90")

    def answer() -> func.HttpResponse:
        result = run(get_context(), days)
        if req.params.get("format") == "csv":
            return func.HttpResponse(to_csv(csv_rows(result)), mimetype="text/csv", charset="utf-8")
        return json_response(result.model_dump(mode="json"))

    return handle_errors(answer)
