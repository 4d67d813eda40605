"""Fuzz of every POST route that takes a body, through the runner: whatever JSON (or non-JSON) arrives, and
whatever the {customer_id} is, the answer is never >= 500 and always a JSON body that says what is wrong."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import own_azurite  # noqa: F401  (this module's own storage)
from tests.e2e_collections.conftest import CollectionsStack

pytestmark = pytest.mark.e2e

ROUTES = ["/payment-events", "/approvals/decide", "/customers/{cid}/actions/suspend",
          "/customers/{cid}/actions/reactivate", "/customers/{cid}/overrides/hold",
          "/customers/{cid}/overrides/promise", "/customers/{cid}/overrides/exemption",
          "/customers/{cid}/case/migrate", "/customers/{cid}/disputes", "/fraud/cases/{cid}/resolve",
          "/fraud/cases/{cid}/notes", "/fraud/cases/{cid}/service-request", "/fraud/cases/{cid}/contain"]
FIELDS = ["reason", "subscription_ids", "all_subscriptions", "subscription_id", "until", "amount", "currency",
          "promised_date", "expires_on", "approver", "invoice_id", "key", "decision", "note", "label", "text",
          "status", "type", "event_id", "customer_id", "occurred_at", "hold_until", "payment_id", "received_at"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
                    st.sampled_from(["9999-12-31", "0001-01-01", "2026-13-01", "1e309", "-0", "１２", "..", "%"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4),
                      max_leaves=12)
bodies = st.one_of(st.dictionaries(st.sampled_from(FIELDS), values, max_size=6).map(json.dumps),
                   values.map(json.dumps), st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
ids = st.one_of(st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), st.text(min_size=1, max_size=12),
                st.sampled_from(["..", "a b", "x' or '1' eq '1", "%00", "ü"]))




@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), cid=ids, body=bodies)
def test_no_post_body_or_route_id_gets_a_server_error(collections_stack: CollectionsStack, route: str, cid: str,
                                                      body: str) -> None:
    url = route.format(cid=quote(cid, safe=""))
    with collections_stack.api() as api:
        r = api.post(url, content=body.encode("utf-8"), headers={"content-type": "application/json"})
    assert r.status_code < 500, (url, body, r.status_code, r.text)
    if r.status_code >= 400 and r.status_code != 404:
        answer: Any = r.json()
        assert answer.get("error"), (url, body, r.text)


days = st.one_of(st.dates().map(str), st.datetimes().map(lambda d: d.isoformat()), st.text(max_size=25),
                st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "2026-01-01T25:00", "1e9"]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cid=ids, at=days)
def test_no_route_id_or_query_date_gets_a_server_error_on_the_read_routes(collections_stack: CollectionsStack,
                                                                        cid: str, at: str) -> None:
    with collections_stack.api() as api:
        for url, params in [(f"/customers/{quote(cid, safe='')}/status", None), ("/collections/preview", {"at": at}),
                            (f"/fraud/cases/{quote(cid, safe='')}", None)]:
            r = api.get(url, params=params)
            assert r.status_code < 500, (url, params, r.status_code, r.text)


def test_known_customer_routes_still_refuse_garbage(collections_stack: CollectionsStack) -> None:
    """The same with a customer that exists (the fuzz mostly hits unknown ones)."""
    from tests.e2e_collections.conftest import add_customer

    cid = add_customer(collections_stack, "Fuzz Target Ltd", [{"kind": "azure_plan"}])["id"]
    with collections_stack.api() as api:
        event = {"type": "customer.updated", "event_id": f"f-{uuid.uuid4().hex[:8]}", "customer_id": cid,
                 "occurred_at": "2026-11-01T00:00:00+08:00", "name": "Fuzz Target Ltd"}
        assert api.post("/payment-events", json=event).status_code == 202
        for route in ROUTES:
            for body in ('{"reason": 5}', '[]', '"x"', '{"until": "9999-12-31", "reason": "r"}', "{"):
                r = api.post(route.format(cid=cid), content=body, headers={"content-type": "application/json"})
                assert 400 <= r.status_code < 500 and r.json().get("error"), (route, body, r.text)
