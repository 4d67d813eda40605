"""The queue contract: queue names, the message envelope, and the one producer every sender uses."""

from shared.messaging.envelope import Envelope, EnvelopeError, decode_envelope
from shared.messaging.producer import MAX_ENCODED_BYTES, MessageTooLarge, QueueProducer, encode_body
from shared.messaging.queues import Queue

__all__ = [
    "MAX_ENCODED_BYTES",
    "Envelope",
    "EnvelopeError",
    "MessageTooLarge",
    "Queue",
    "QueueProducer",
    "decode_envelope",
    "encode_body",
]
