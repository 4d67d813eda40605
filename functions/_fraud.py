"""Request parsing shared by the fraud blueprints (``functions/fraud.py``, ``functions/fraud_requests.py``)."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from functions._http import authorize, json_body, only_fields, route_customer
from shared.permissions import Permission


def operator_request(req: func.HttpRequest, fields: set[str], permission: Permission = Permission.ACT
                     ) -> tuple[str, str, dict[str, Any], func.HttpResponse | None]:
    """(normalised route customer id, actor, JSON object body with only ``fields``, error response): the caller
    must hold ``permission``."""
    found, refused = authorize(req, permission)  # sign-in first: a stranger learns nothing about ids
    if found is None:
        return "", "", {}, refused
    cid, bad_id = route_customer(req)
    if bad_id:
        return "", "", {}, bad_id
    who = found.actor
    if not req.get_body():
        return cid, who, {}, None
    data, bad = json_body(req)
    if bad:
        return cid, who, {}, bad
    bad = only_fields(data, fields)
    if bad:
        return cid, who, {}, bad
    return cid, who, data, None
