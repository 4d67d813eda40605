from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.partner_center import (
    AuthError,
    Conflict,
    EtagMismatch,
    NotFound,
    PartnerCenterError,
    PermissionDenied,
    RequestError,
    RestrictionError,
    ServerError,
    Throttled,
)
from shared.partner_center._errors import error_from_response, normalise_code, parse_retry_after


@pytest.mark.parametrize(
    ("status", "body", "expected", "code"),
    [
        (400, {"code": 2055, "description": "etag"}, EtagMismatch, "2055"),
        (400, {"code": "2055"}, EtagMismatch, "2055"),
        (412, {"code": "x"}, EtagMismatch, "x"),
        (400, {"code": 800091, "description": "suspended"}, RestrictionError, "800091"),
        (409, {"code": "27009"}, RestrictionError, "27009"),
        (403, {"code": 900115}, RestrictionError, "900115"),
        (400, {"code": "2011"}, RestrictionError, "2011"),
        (403, {"code": 123}, PermissionDenied, "123"),
        (401, {}, AuthError, None),
        (404, {"code": "600008"}, NotFound, "600008"),
        (409, {"code": "1"}, Conflict, "1"),
        (400, {"code": "1"}, RequestError, "1"),
        (500, {"code": "1"}, ServerError, "1"),
        (503, "not json", ServerError, None),
        (408, None, ServerError, None),
    ],
)
def test_mapping(status: int, body: object, expected: type, code: str | None) -> None:
    err = error_from_response(status, body, request_id="r", correlation_id="c")
    assert type(err) is expected
    assert (err.code, err.status, err.request_id, err.correlation_id) == (code, status, "r", "c")


def test_restriction_is_not_a_conflict_and_etag_is() -> None:
    assert not issubclass(RestrictionError, Conflict)
    assert issubclass(EtagMismatch, Conflict)
    assert issubclass(PermissionDenied, AuthError)


def test_throttled_body_and_header() -> None:
    body = {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 7 seconds."}
    err = error_from_response(429, body, retry_after_header=None)
    assert isinstance(err, Throttled) and err.retry_after == 7.0
    assert "Rate limit" in err.description
    assert error_from_response(429, body, retry_after_header="2").retry_after == 2.0


@pytest.mark.parametrize(
    ("header", "expected"), [("3", 3.0), (" 1.5 ", 1.5), ("-4", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", None)]
)
def test_parse_retry_after(header: str, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_str_names_ids_for_support() -> None:
    text = str(
        error_from_response(404, {"code": 1, "description": "gone"}, request_id="rid", correlation_id="cid")
    )
    assert "gone" in text and "rid" in text and "cid" in text and "404" in text


@given(st.integers(min_value=0, max_value=10**9))
def test_int_and_str_codes_normalise_alike(code: int) -> None:
    assert normalise_code(code) == normalise_code(str(code)) == str(code)
    assert normalise_code(float(code)) == str(code)


@given(st.integers(min_value=400, max_value=599), st.one_of(st.none(), st.integers(), st.text(max_size=8)))
def test_every_error_status_maps_into_the_tree(status: int, code: object) -> None:
    err = error_from_response(status, {"code": code})
    assert isinstance(err, PartnerCenterError)
    assert err.status == status
