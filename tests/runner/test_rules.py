"""Pure rules of the runner: codec, retry/poison, back-off, routes, keys, schedules, metadata parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest
from hypothesis import given
from hypothesis import strategies as st

from devtools.runner.metadata import IndexingError, parse_function, parse_host_json, parse_timespan
from devtools.runner.queue_codec import (
    Disposition,
    UndecodableMessage,
    after_failure,
    before_run,
    decode_body,
    encode_body,
    next_poll_delay,
    output_messages,
)
from devtools.runner.routes import Keys, authorized, compile_route, route_sort_key
from devtools.runner.timers import Schedule, is_past_due


@given(st.binary(max_size=500), st.sampled_from(["base64"]))
def test_base64_round_trip(data: bytes, enc: str) -> None:
    assert decode_body(encode_body(data, enc), enc) == data


@given(st.text(max_size=200))
def test_none_encoding_round_trip(text: str) -> None:
    assert decode_body(encode_body(text, "none"), "none") == text.encode()


@pytest.mark.parametrize("bad", ["not base64!", "abc", "{\"a\": 1}", "é"])
def test_invalid_base64_is_undecodable(bad: str) -> None:
    with pytest.raises(UndecodableMessage):
        decode_body(bad, "base64")


def test_output_messages_split_json_arrays_only() -> None:
    assert output_messages('["a", 2, {"b": [1]}]') == ["a", "2", '{"b":[1]}']
    assert output_messages('{"a": 1}') == ['{"a": 1}']
    assert output_messages("[not json") == ["[not json"]
    assert output_messages(["x", b"y"]) == ["x", b"y"]
    assert output_messages(None) == []
    with pytest.raises(TypeError):
        output_messages(42)


@given(st.integers(1, 20), st.integers(1, 20))
def test_retry_until_max_then_poison(count: int, maximum: int) -> None:
    expected = Disposition.POISON if count >= maximum else Disposition.RETRY
    assert after_failure(count, maximum) is expected
    assert (before_run(count, maximum) is Disposition.POISON) == (count > maximum)


@given(st.lists(st.booleans(), max_size=30))
def test_backoff_is_bounded_and_resets(found: list[bool]) -> None:
    maximum, delay = timedelta(seconds=2), timedelta(0)
    for f in found:
        delay = next_poll_delay(delay, f, maximum)
        assert timedelta(0) <= delay <= maximum
        if f:
            assert delay == timedelta(0)


def test_timespan_and_host_json_defaults() -> None:
    assert parse_timespan("00:00:02") == timedelta(seconds=2)
    assert parse_timespan("1.02:00:00.5") == timedelta(days=1, hours=2, seconds=0.5)
    opts = parse_host_json({"extensions": {"queues": {"batchSize": 8, "messageEncoding": "None"}}}, cores=2)
    assert opts.queues.batch_size == 8 and opts.queues.new_batch_threshold == 8
    assert opts.queues.message_encoding == "none" and opts.route_prefix == "api"
    assert parse_host_json({"extensions": {"http": {"routePrefix": ""}}}).route_prefix == ""


def test_route_matching_and_precedence() -> None:
    r = compile_route("orders/{id:guid}/lines/{n:int?}")
    assert r.match("orders/0f8fad5b-d9cb-469f-a165-70867728950e/lines") == {
        "id": "0f8fad5b-d9cb-469f-a165-70867728950e"}
    assert r.match("orders/x/lines/1") is None
    routes = [compile_route(t) for t in ["a/{*rest}", "a/{b}", "a/{b:int}", "a/b"]]
    ordered = [x.template for x in sorted(routes, key=route_sort_key)]
    assert ordered == ["a/b", "a/{b:int}", "a/{b}", "a/{*rest}"]


KEYS = Keys(function="f", host="h", master="m")


@pytest.mark.parametrize(("level", "key", "ok"), [
    ("anonymous", None, True), ("function", None, False), ("function", "f", True), ("function", "h", True),
    ("function", "m", True), ("function", "x", False), ("admin", "f", False), ("admin", "h", False),
    ("admin", "m", True),
])
def test_auth_levels(level: str, key: str | None, ok: bool) -> None:
    assert authorized(level, key, KEYS) is ok


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.sampled_from(["*/7 * * * * *", "0 */5 * * * *", "0 0 1 * * MON-FRI", "30 15 9 1 * *"]))
def test_schedule_occurrences_bracket_t(t: datetime, expr: str) -> None:
    s = Schedule.parse(expr)
    nxt, prev = s.next_after(t), s.latest_at_or_before(t)
    assert prev <= t < nxt and s.tick(prev) > timedelta(0)
    assert s.next_after(prev) == nxt


def test_schedule_rejects_five_fields_and_supports_timespan() -> None:
    with pytest.raises(IndexingError):
        Schedule.parse("*/5 * * * *")
    anchor = datetime(2024, 1, 1, tzinfo=UTC)
    s = Schedule.parse("00:00:10", anchor)
    assert s.next_after(anchor + timedelta(seconds=15)) == anchor + timedelta(seconds=20)


def test_past_due_rules() -> None:
    t0, tick = datetime(2024, 1, 1, tzinfo=UTC), timedelta(minutes=5)
    assert not is_past_due(t0, t0 + timedelta(seconds=1), tick, busy=False)
    assert is_past_due(t0, t0 + timedelta(minutes=6), tick, busy=False)
    assert is_past_due(t0, t0 + timedelta(seconds=1), tick, busy=True)


def test_binding_name_must_match_a_parameter() -> None:
    def handler(msg: func.QueueMessage) -> None: ...

    doc = {"bindings": [{"type": "queueTrigger", "direction": "IN", "name": "message", "queueName": "q"}]}
    with pytest.raises(IndexingError, match="message"):
        parse_function("handler", doc, handler, {})


def test_settings_expressions_resolve_and_missing_ones_fail() -> None:
    def handler(msg: func.QueueMessage) -> None: ...

    doc = {"bindings": [{"type": "queueTrigger", "direction": "IN", "name": "msg", "queueName": "%Q%-x"}]}
    spec = parse_function("handler", doc, handler, {"Q": "orders"})
    assert spec.trigger.queue_name == "orders-x" and spec.trigger.connection == "AzureWebJobsStorage"
    with pytest.raises(IndexingError, match="'Q'"):
        parse_function("handler", doc, handler, {})
