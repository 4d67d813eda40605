"""The HTTP adapters' shared helpers: nesting limit, strict bodies, route ids, no empty 500."""

from __future__ import annotations

import json

import azure.functions as func
from hypothesis import given
from hypothesis import strategies as st

from functions._http import MAX_JSON_DEPTH, _too_deep, handle_errors, json_body, only_fields, route_customer

C1 = "00000000-0000-4000-8000-0000000000c1"


def _req(body: bytes = b"", cid: str = C1) -> func.HttpRequest:
    return func.HttpRequest("POST", "/api/x", body=body, route_params={"customer_id": cid})


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=6),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                        max_size=3), max_leaves=40)


@given(json_values, st.integers(0, 2 * MAX_JSON_DEPTH))
def test_the_depth_scan_agrees_with_the_parsed_structure(value: object, wraps: int) -> None:
    """Brackets inside strings (escaped quotes included) do not count; real nesting does."""
    for i in range(wraps):
        value = [value] if i % 2 else {"k[": value}
    body = json.dumps(value).encode()
    assert _too_deep(body) == (_depth(value) > MAX_JSON_DEPTH)


def test_deep_json_is_a_400_before_parsing_and_json_errors_say_why() -> None:
    data, bad = json_body(_req(b"[" * 50_000 + b"]" * 50_000))
    assert data is None and bad is not None and bad.status_code == 400 and b"deeper" in bad.get_body()
    _, bad = json_body(_req(b"{nope"))
    assert bad is not None and bad.status_code == 400 and b"not valid JSON" in bad.get_body()


def test_unknown_fields_are_named() -> None:
    bad = only_fields({"reason": "x", "subscription_id": "s"}, {"reason", "subscription_ids"})
    assert bad is not None and bad.status_code == 400
    assert json.loads(bad.get_body())["unknown_fields"] == ["subscription_id"]
    assert only_fields([], {"reason"}) is not None and only_fields({"reason": "x"}, {"reason"}) is None


def test_route_ids_are_normalised_or_refused() -> None:
    assert route_customer(_req(cid=C1.upper())) == (C1, None)
    cid, bad = route_customer(_req(cid="x' or 'a' eq 'a"))
    assert cid == "" and bad is not None and bad.status_code == 400 and b"tenant" in bad.get_body()


def test_an_unexpected_failure_is_a_500_with_a_body_that_says_so() -> None:
    def boom() -> func.HttpResponse:
        raise OverflowError("date value out of range")

    answer = handle_errors(boom)
    assert answer.status_code == 500
    assert "OverflowError" in json.loads(answer.get_body())["error"]
