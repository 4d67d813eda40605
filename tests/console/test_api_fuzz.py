"""Fuzz every operation of the OpenAPI document (schemathesis) against the local stack: no response >= 500.

Also: every person-facing route refuses a caller nobody vouches for (401), so a route added without its role
check cannot slip through."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from devtools.runner import DEFAULT_KEYS
from functions.api_docs import registered_routes
from shared.auth import encode_principal
from shared.openapi import OPERATIONS, build_document
from tests.e2e_collections.conftest import CollectionsStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
schema = schemathesis.openapi.from_dict(build_document(registered_routes()))  # registered routes only
SIGNED_IN = {"x-functions-key": DEFAULT_KEYS.function, "x-actor": "fuzz@partner.example",
             "x-source-system": "fuzz"}


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_operation_answers_a_server_error(case: Any, console_stack: CollectionsStack) -> None:
    response = case.call(base_url=console_stack.runner.base_url, headers=SIGNED_IN, timeout=60,
                         allow_redirects=False)
    case.validate_response(response, checks=[not_a_server_error])


REGISTERED = set(registered_routes())


@pytest.mark.parametrize("op", [o for o in OPERATIONS if o.permission is not None
                                and (not o.optional or (o.method, o.route) in REGISTERED)],
                         ids=lambda o: f"{o.method} {o.route}")
def test_nobody_vouched_for_is_refused(op: Any, console_stack: CollectionsStack) -> None:
    """Even a well-formed admin principal header is dropped when a client sends it (only the runner's sign-in
    session, like the platform's, produces one)."""
    path = "/api/" + op.route
    for name, values in op.path_enums.items():
        path = path.replace("{" + name + "}", values[0])
    path = path.replace("{", "").replace("}", "")  # any value for the other parameters
    r = httpx.request(op.method, console_stack.runner.base_url + path, timeout=30, follow_redirects=False,
                      headers={"x-ms-client-principal": encode_principal("mallory@evil.example", ["admin"]),
                               "content-type": "application/json"},
                      content=b"{}")
    if op.html:
        assert r.status_code == 302 and "/.auth/login" in r.headers["location"]
    else:
        assert r.status_code == 401, r.text


def test_routes_that_lead_to_actions_record_who_asked(console_stack: CollectionsStack) -> None:
    base = console_stack.runner.base_url
    keyed = {"x-functions-key": DEFAULT_KEYS.function}
    nameless = httpx.post(f"{base}/api/payment-events", json=[], headers=keyed, timeout=30)
    assert nameless.status_code == 400 and "X-Source-System" in nameless.json()["error"]
    run = httpx.post(f"{base}/api/collections/sweep", headers={"x-actor": "olga@partner.example"}, timeout=60)
    assert run.status_code == 202 and run.json()["requested_by"] == "operator:olga@partner.example"
    scan = httpx.post(f"{base}/api/fraud/scan", headers={"x-actor": "olga@partner.example"}, timeout=60)
    assert scan.status_code == 202 and scan.json()["requested_by"] == "operator:olga@partner.example"
