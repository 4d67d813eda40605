"""GET /api/openapi.json: the OpenAPI 3.1 document of the routes this app registers (shared/openapi.py)."""

from __future__ import annotations

import json

import azure.functions as func

from functions._http import json_response

bp = func.Blueprint()


def registered_routes() -> list[tuple[str, str]]:
    """(METHOD, route) of every HTTP function of the app, from the same metadata the host indexes."""
    import function_app

    out = []
    for f in function_app.app.get_functions():
        for binding in json.loads(f.get_function_json())["bindings"]:
            if binding.get("type") == "httpTrigger":
                out += [(m.upper(), binding["route"]) for m in binding.get("methods") or ("GET",)]
    return out


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    from shared.openapi import build_document

    return json_response(build_document(registered_routes()))
