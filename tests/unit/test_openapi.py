"""The OpenAPI document is true: it lists exactly the routes the FunctionApp registers, with their methods."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from functions.api_docs import registered_routes
from shared.openapi import OPERATIONS, build_document


def _host_metadata() -> set[tuple[str, str]]:
    """What the Functions host indexes: FunctionApp.get_functions() (once per app, so on a fresh import)."""
    import importlib
    import sys

    saved = sys.modules.pop("function_app", None)
    try:
        app = importlib.import_module("function_app").app
        out = set()
        for f in app.get_functions():
            for b in json.loads(f.get_function_json())["bindings"]:
                if b.get("type") == "httpTrigger":
                    out |= {(m.upper(), b["route"]) for m in b.get("methods") or ("GET",)}
        return out
    finally:
        if saved is not None:
            sys.modules["function_app"] = saved


def test_every_registered_route_is_documented_and_nothing_else() -> None:
    registered = _host_metadata()
    assert registered == set(registered_routes())  # what the app serves at run time agrees with the host
    doc = build_document(registered)
    documented = {(method.upper(), path.removeprefix("/api/")) for path, ops in doc["paths"].items() for method in ops}
    assert registered - documented == set(), "routes without an entry in shared/openapi.py OPERATIONS"
    assert documented - registered == set(), "documented routes the app does not register"


def test_the_document_is_valid_openapi_3_1_and_served() -> None:
    import schemathesis

    from functions._routes import http_routes

    serve = next(fn for m, route, fn in http_routes() if route == "openapi.json")
    res = serve(func.HttpRequest(method="GET", url="http://x/api/openapi.json", headers={}, body=b""))
    assert res.status_code == 200
    doc = json.loads(res.get_body())
    assert doc["openapi"] == "3.1.0"
    schema = schemathesis.openapi.from_dict(doc)
    assert len(list(schema.get_all_operations())) == sum(len(ops) for ops in doc["paths"].values())


@pytest.mark.parametrize("op", [o for o in OPERATIONS if o.permission is not None], ids=lambda o: o.route)
def test_every_guarded_operation_says_who_may_call_it(op: object) -> None:
    doc = build_document([(o.method, o.route) for o in OPERATIONS])
    found = doc["paths"][f"/api/{op.route}"][op.method.lower()]  # type: ignore[attr-defined]
    assert found["security"] and {"401", "403"} <= set(found["responses"])
