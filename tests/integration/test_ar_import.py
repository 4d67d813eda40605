"""AR import events reach the payment-events queue as base64 envelopes the app's handler accepts."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from azure.storage.queue import QueueServiceClient

from devtools.azurite import Azurite
from shared.context import get_context, reset_context
from shared.messaging import Queue, decode_envelope
from shared.services.ar_import import ar_events
from shared.services.payments import enqueue_events, parse_payment_event

pytestmark = pytest.mark.integration
SAMPLE = Path(__file__).parents[2] / "config" / "samples" / "ar-export.sample.csv"


def test_imported_events_arrive_as_envelopes_keyed_by_event_id(azurite: Azurite,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    reset_context()
    tag = uuid.uuid4().hex[:8]  # the queue is shared within the session: our own customers
    text = SAMPLE.read_text(encoding="utf-8").replace("-0d6e-", f"-{tag[:4]}-").replace("-6c3d-", f"-{tag[4:]}-")
    events = [e for e in ar_events(text, str(SAMPLE), datetime.now(UTC)) if tag[:4] in e.customer_id
              or tag[4:] in e.customer_id]
    assert len(events) > 5
    try:
        ids = enqueue_events(get_context(), events, "ar-import:test")
    finally:
        reset_context()
    queue = QueueServiceClient.from_connection_string(azurite.connection_string).get_queue_client(
        Queue.PAYMENT_EVENTS)
    received = {}
    for message in queue.receive_messages(messages_per_page=32, visibility_timeout=60):
        envelope = decode_envelope(base64.b64decode(message.content))  # host.json: messageEncoding base64
        if envelope.idempotency_key in ids:
            received[envelope.idempotency_key] = envelope
    assert set(received) == set(ids)
    for event in events:
        envelope = received[event.event_id]
        assert envelope.kind == event.type and envelope.source == "ar-import:test"
        assert parse_payment_event(envelope.kind, envelope.payload) == event  # amounts survive as Decimal text
