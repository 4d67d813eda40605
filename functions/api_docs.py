"""GET /api/openapi.json: the OpenAPI 3.1 document of the routes this app registers (shared/openapi.py)."""

from __future__ import annotations

import azure.functions as func

from functions._http import json_response
from functions._routes import http_routes

bp = func.Blueprint()


def registered_routes() -> list[tuple[str, str]]:
    return [(method, route) for method, route, _ in http_routes()]


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    from shared.openapi import build_document

    return json_response(build_document(registered_routes()))
