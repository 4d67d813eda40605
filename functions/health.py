"""GET /api/health: is storage reachable and is the configuration usable?"""

import json

import azure.functions as func

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    from shared.health import check_health

    report = check_health()
    return func.HttpResponse(
        json.dumps(report), status_code=200 if report["status"] == "ok" else 503, mimetype="application/json"
    )
