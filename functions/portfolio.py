"""Read-only views the console shows and anyone may fetch: the portfolio and the published policy document."""

from __future__ import annotations

import azure.functions as func

from functions._http import authorize, error, handle_errors, json_response, query_int
from shared.permissions import Permission

bp = func.Blueprint()


@bp.route(route="collections/portfolio", methods=["GET"])
def portfolio(req: func.HttpRequest) -> func.HttpResponse:
    """Customers by stage and AR ageing per currency; ``?page=&page_size=`` page the customer rows."""
    from shared.context import get_context
    from shared.services.portfolio import portfolio as view

    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    page = query_int(req, "page", 1, 1, 1_000_000)
    size = query_int(req, "page_size", 50, 1, 200)
    if page is None or size is None:
        return error(400, "page must be a whole number >= 1 and page_size one from 1 to 200")
    return handle_errors(lambda: json_response(view(get_context(), page=page, page_size=size)))


@bp.route(route="collections/policy", methods=["GET"])
def policy_document(req: func.HttpRequest) -> func.HttpResponse:
    """``?language=en|zh-CN``: the policy customers are told about, as Markdown."""
    from shared.context import get_context
    from shared.services.policies import policy_document as document

    _, refused = authorize(req, Permission.READ)
    if refused:
        return refused
    language = req.params.get("language") or "en"
    if language not in ("en", "zh-CN"):
        return error(400, "language must be en or zh-CN")
    return handle_errors(lambda: json_response(document(get_context(), language)))  # type: ignore[arg-type]
