"""Queue triggers through the runner against the real Azurite."""

from __future__ import annotations

import base64
import json
import time

import pytest

from tests.runner.conftest import b64, wait_for

pytestmark = pytest.mark.integration


def test_fails_until_max_dequeue_count_then_poison_with_original_body(make_runner) -> None:
    h = make_runner({"maxDequeueCount": 3})
    h.send_json("SAMPLE_QUEUE", {"action": "fail", "n": 1})
    poison = f"{h.names['SAMPLE_QUEUE']}-poison"
    bodies = wait_for(lambda: h.peek(poison))
    assert [base64.b64decode(b).decode() for b in bodies] == [json.dumps({"action": "fail", "n": 1})]
    assert [e["dequeue_count"] for e in h.app.events("work")] == [1, 2, 3]
    assert len({e["id"] for e in h.app.events("work")}) == 1
    assert h.peek(h.names["SAMPLE_QUEUE"]) == []


def test_runner_survives_failures_and_keeps_processing(make_runner) -> None:
    h = make_runner({"maxDequeueCount": 1})
    h.send_json("SAMPLE_QUEUE", {"action": "fail"})
    h.send_json("SAMPLE_QUEUE", {"action": "ok", "items": ["after"]})
    outs = wait_for(lambda: h.peek(h.names["SAMPLE_OUT_QUEUE"]))
    assert [base64.b64decode(o).decode() for o in outs] == ["after"]
    wait_for(lambda: h.peek(f"{h.names['SAMPLE_QUEUE']}-poison"))


def test_undecodable_body_goes_to_poison_without_running(make_runner) -> None:
    h = make_runner()
    h.send("SAMPLE_QUEUE", '{"action": "ok"} is not base64', raw=True)
    poison = wait_for(lambda: h.peek(f"{h.names['SAMPLE_QUEUE']}-poison"))
    assert poison == ['{"action": "ok"} is not base64']
    assert h.app.events("work") == []


def test_failed_message_stays_invisible_for_visibility_timeout(make_runner) -> None:
    h = make_runner({"visibilityTimeout": "00:00:02", "maxDequeueCount": 2})
    h.send_json("SAMPLE_QUEUE", {"action": "fail"})
    wait_for(lambda: h.app.events("work"))
    time.sleep(0.5)  # the failure has been settled by now; the message must still be hidden
    assert h.peek(h.names["SAMPLE_QUEUE"]) == []
    assert len(h.app.events("work")) == 1
    wait_for(lambda: len(h.app.events("work")) == 2)
    first, second = h.app.events("work")
    assert second["at"] - first["at"] >= 1.9
    assert (first["dequeue_count"], second["dequeue_count"]) == (1, 2)


def test_output_binding_is_base64_encoded_and_json_arrays_split(make_runner) -> None:
    h = make_runner()
    h.send_json("SAMPLE_QUEUE", {"action": "ok", "items": ["a", "b", {"c": 1}]})
    outs = wait_for(lambda: (lambda v: v if len(v) == 3 else None)(h.peek(h.names["SAMPLE_OUT_QUEUE"])))
    assert sorted(base64.b64decode(o).decode() for o in outs) == ['a', 'b', '{"c":1}']


def test_async_function_with_str_param_context_and_return_output(make_runner) -> None:
    h = make_runner()
    h.send("SAMPLE_ASYNC_QUEUE", "hello")
    outs = wait_for(lambda: h.peek(h.names["SAMPLE_OUT_QUEUE"]))
    assert outs == [b64("HELLO")]
    (event,) = h.app.events("work_async")
    assert event["text"] == "hello" and event["function_name"] == "work_async" and event["invocation_id"]


def test_message_encoding_none_reads_and_writes_plain_text(make_runner) -> None:
    h = make_runner({"messageEncoding": "none"})
    h.send("SAMPLE_QUEUE", json.dumps({"action": "ok", "items": ["plain"]}), raw=True)
    assert wait_for(lambda: h.peek(h.names["SAMPLE_OUT_QUEUE"])) == ["plain"]


def test_batch_size_bounds_concurrency(make_runner) -> None:
    h = make_runner({"batchSize": 3, "newBatchThreshold": 0})
    for _ in range(6):
        h.send_json("SAMPLE_QUEUE", {"action": "sleep", "seconds": 0.6})
    wait_for(lambda: len(h.app.events("work")) == 6)
    wait_for(lambda: h.app._running["now"] == 0)
    assert h.app.max_concurrency() == 3


def test_trigger_queue_is_created_if_missing(make_runner) -> None:
    h = make_runner()
    assert h.service.get_queue_client(h.names["SAMPLE_QUEUE"]).get_queue_properties() is not None
