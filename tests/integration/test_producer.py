import base64
import json

import pytest
from azure.storage.queue import QueueServiceClient

from shared.messaging import Envelope, MessageTooLarge, QueueProducer, decode_envelope, encode_body

pytestmark = pytest.mark.integration


def test_producer_writes_base64_envelope_the_host_can_decode(storage_connection: str, unique_name: str) -> None:
    producer = QueueProducer.from_connection_string(storage_connection)
    env = Envelope(kind="payment.received", idempotency_key="evt-1", payload={"amount": "10.00"})
    producer.send(unique_name, env)
    q = QueueServiceClient.from_connection_string(storage_connection).get_queue_client(unique_name)
    msg = next(iter(q.receive_messages()))
    decoded = base64.b64decode(msg.content)
    assert decode_envelope(decoded) == env
    assert json.loads(decoded)["idempotency_key"] == "evt-1"


def test_oversized_message_is_refused_before_sending() -> None:
    env = Envelope(kind="x", idempotency_key="k", payload={"blob": "a" * 60_000})
    with pytest.raises(MessageTooLarge):
        encode_body(env)
