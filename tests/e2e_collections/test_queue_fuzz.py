"""Queue fuzz (issue 14): random bodies, bad base64, oversize bodies and wrong kinds on every queue, through the
runner on Azurite. Nothing is lost: every message is listed by GET /api/dead-letters with a reason, once."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueServiceClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.messaging import Queue, kinds
from tests.e2e_collections.conftest import CollectionsStack, wait_until

pytestmark = pytest.mark.e2e

QUEUE_KIND = {Queue.PAYMENT_EVENTS: "payment.received", Queue.SWEEP_SHARDS: kinds.SWEEP_SHARD,
              Queue.ENFORCEMENT: kinds.ENFORCEMENT, Queue.NOTIFICATIONS: kinds.NOTICE,
              Queue.SERVICE_REQUESTS: kinds.SERVICE_REQUEST, Queue.FRAUD_SCAN: kinds.FRAUD_SCAN}
SHAPES = ("not_base64", "base64_junk", "wrong_kind", "bad_payload", "oversize", "not_an_object")
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=3), max_leaves=8)
message_specs = st.tuples(st.sampled_from(list(Queue)), st.sampled_from(SHAPES), st.text(max_size=60),
                          st.binary(max_size=60), json_values)


def _body(queue: Queue, shape: str, text: str, raw: bytes, value: Any, marker: str) -> str:
    """The stored queue text for one fuzzed message; each one carries ``marker`` so it can be found again."""
    def envelope(kind: str, payload: Any) -> str:
        return json.dumps({"schema_version": 1, "kind": kind, "idempotency_key": marker, "payload": payload})

    if shape == "not_base64":
        return f"{text} !{marker}! {{"  # '!', ' ' and '{' are never base64
    if shape == "base64_junk":
        data = raw + marker.encode() + b"\xff\xfe"  # not UTF-8, not JSON
    elif shape == "wrong_kind":
        other = next(k for q, k in QUEUE_KIND.items() if q is not queue)
        data = envelope(other, {"customer_id": marker}).encode()
    elif shape == "bad_payload":
        data = envelope(QUEUE_KIND[queue], {"fuzz": value, "marker": marker}).encode()
    elif shape == "oversize":  # over the 32K characters a table string holds, under the 64 KiB queue limit
        data = envelope(QUEUE_KIND[queue], {"marker": marker, "blob": (text or "x") * (40_000 // max(len(text), 1))}
                        ).encode()[:46_000]
    else:
        data = json.dumps([value, marker]).encode()
    return base64.b64encode(data).decode("ascii")


@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(message_specs, min_size=6, max_size=12))
def test_no_fuzzed_message_is_lost(collections_stack: CollectionsStack, specs: list[Any]) -> None:
    stack = collections_stack
    service = QueueServiceClient.from_connection_string(stack.azurite.connection_string)
    sent: dict[str, tuple[str, str]] = {}
    for queue, shape, text, raw, value in specs:
        marker = uuid.uuid4().hex
        client = service.get_queue_client(queue.value)
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        client.send_message(_body(queue, shape, text, raw, value, marker))
        sent[marker] = (queue.value, shape)

    def listed() -> dict[str, list[dict[str, Any]]] | None:
        with stack.api() as api:
            items = api.get("/dead-letters").json()["items"]
        found = {m: [d for d in items if m in d["body"]] for m in sent}
        return found if all(found.values()) else None

    found = wait_until(listed, what="every fuzzed message listed", timeout=90)
    for marker, letters in found.items():
        queue, shape = sent[marker]
        assert len(letters) == 1, (shape, letters)  # kept once
        letter = letters[0]
        assert letter["queue"] == queue and letter["reason"], letter
        assert letter["origin"] == ("poison" if shape == "not_base64" else "handler"), (shape, letter["reason"])
