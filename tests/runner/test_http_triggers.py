"""HTTP triggers through the runner: routing, methods, keys, request/response mapping, failures."""

from __future__ import annotations

import logging

import httpx
import pytest

from devtools.runner import DEFAULT_KEYS

pytestmark = pytest.mark.integration


@pytest.fixture
def http(make_runner):
    h = make_runner()
    with httpx.Client(base_url=h.runner.base_url, timeout=10) as client:
        yield h, client


def test_route_params_query_headers_and_url_reach_the_function(http) -> None:
    h, c = http
    r = c.get("/api/items/42", params={"x": "1"}, headers={"X-Sample": "yes"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    data = r.json()
    assert data["route"] == {"id": "42"} and data["params"] == {"x": "1"}
    assert data["method"] == "GET" and data["header"] == "yes"
    assert data["url"] == f"{h.runner.base_url}/api/items/42?x=1"


def test_route_constraints_precedence_prefix_and_methods(http) -> None:
    _, c = http
    assert c.get("/api/items/abc").status_code == 404  # {id:int} does not match
    assert c.get("/api/items/special").text == "special"  # literal beats parameter
    assert c.get("/API/Items/7").status_code == 200  # case-insensitive
    assert c.get("/items/7").status_code == 404  # routePrefix is required
    assert c.post("/api/items/7").status_code == 404  # method not allowed by the binding
    assert c.get("/api/nothing-here").status_code == 404


def test_function_level_auth_by_header_or_code_query(http) -> None:
    _, c = http
    assert c.post("/api/echo", content=b"x").status_code == 401
    assert c.post("/api/echo", content=b"x", headers={"x-functions-key": "wrong"}).status_code == 401
    fkey = {"x-functions-key": DEFAULT_KEYS.function}
    assert c.post("/api/echo", content=b"x", headers=fkey).status_code == 201
    assert c.post("/api/echo", content=b"x", params={"code": DEFAULT_KEYS.function}).status_code == 201
    assert c.post("/api/echo", content=b"x", params={"code": DEFAULT_KEYS.host}).status_code == 201
    assert c.post("/api/echo", content=b"x", params={"code": DEFAULT_KEYS.master}).status_code == 201


def test_admin_level_needs_the_master_key(http) -> None:
    _, c = http
    assert c.get("/api/admin-only").status_code == 401
    assert c.get("/api/admin-only", headers={"x-functions-key": DEFAULT_KEYS.function}).status_code == 401
    assert c.get("/api/admin-only", headers={"x-functions-key": DEFAULT_KEYS.host}).status_code == 401
    r = c.get("/api/admin-only", headers={"x-functions-key": DEFAULT_KEYS.master})
    assert r.status_code == 200 and r.text == "admin ok"


def test_keys_are_configurable_by_settings(make_runner) -> None:
    h = make_runner(extra={"CSPGUARD_LOCAL_FUNCTION_KEY": "custom-key"})
    with httpx.Client(base_url=h.runner.base_url) as c:
        assert c.put("/api/echo", params={"code": "custom-key"}).status_code == 201
        assert c.put("/api/echo", params={"code": DEFAULT_KEYS.function}).status_code == 401


def test_async_function_response_status_headers_mimetype_charset_and_context(http) -> None:
    _, c = http
    r = c.put("/api/echo/bob", content="café".encode("latin-1"),
              headers={"x-functions-key": DEFAULT_KEYS.function})
    assert r.status_code == 201
    assert r.headers["content-type"] == "text/html; charset=latin-1"
    assert r.headers["x-name"] == "bob" and len(r.headers["x-invocation"]) == 36
    assert r.content == "café".encode("latin-1")


def test_raising_function_gives_500_logs_invocation_id_and_runner_lives(http, caplog) -> None:
    _, c = http
    with caplog.at_level(logging.ERROR, logger="devtools.runner"):
        assert c.get("/api/boom").status_code == 500
    failed = [r for r in caplog.records if "Failed" in r.getMessage() and "boom" in r.getMessage()]
    assert failed and "id=" in failed[0].getMessage() and failed[0].exc_info is not None
    assert c.get("/api/items/1").status_code == 200


def test_http_function_queue_output_binding(http) -> None:
    h, c = http
    assert c.post("/api/enqueue", content=b'["one","two"]').status_code == 202
    import base64

    outs = [base64.b64decode(m).decode() for m in h.peek(h.names["SAMPLE_OUT_QUEUE"])]
    assert sorted(outs) == ["one", "two"]


def test_admin_endpoint_runs_a_timer_function(http) -> None:
    h, c = http
    assert c.post("/admin/functions/tick", json={"input": ""}).status_code == 401
    r = c.post("/admin/functions/tick", json={"input": ""}, headers={"x-functions-key": DEFAULT_KEYS.master})
    assert r.status_code == 202
    assert c.post("/admin/functions/nope", json={}, headers={"x-functions-key": DEFAULT_KEYS.master}
                  ).status_code == 404
    from tests.runner.conftest import wait_for

    wait_for(lambda: h.app.events("tick"))
