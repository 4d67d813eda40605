from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.partner_center._paging import next_page, normalise_uri
from tests.partner_center.conftest import page


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/customers?size=500&seekOperation=Next", "/v1/customers?size=500&seekOperation=Next"),
        ("customers?size=5", "/v1/customers?size=5"),
        ("/v1/customers?size=5", "/v1/customers?size=5"),
        ("/V1/customers", "/V1/customers"),
        ("https://api.example/v1/invoices?x=1", "/v1/invoices?x=1"),
        ("/v1?x", "/v1?x"),
        ("/v10/things", "/v1/v10/things"),
    ],
)
def test_normalise(uri: str, expected: str) -> None:
    assert normalise_uri(uri) == expected


@given(st.text(alphabet="abcdefv1/?=&", min_size=1, max_size=30))
def test_normalise_is_rooted_and_idempotent(uri: str) -> None:
    out = normalise_uri(uri)
    assert out.lower().startswith("/v1")
    assert normalise_uri(out) == out


def test_next_page_carries_continuation_headers() -> None:
    req = next_page(page([{"id": "a"}], "/customers?seekOperation=Next", "tok=="))
    assert req is not None
    assert req.path == "/v1/customers?seekOperation=Next"
    assert req.headers == {"MS-ContinuationToken": "tok=="}
    assert req.method == "GET"


def test_next_page_accepts_mapping_headers_and_stops_without_next() -> None:
    body = {"links": {"next": {"uri": "/v1/x", "headers": {"MS-ContinuationToken": "t"}}}}
    req = next_page(body)
    assert req is not None and req.headers == {"MS-ContinuationToken": "t"}
    assert next_page(page([{"id": "a"}])) is None
    assert next_page({"links": {"next": {"uri": ""}}}) is None
    assert next_page({}) is None
