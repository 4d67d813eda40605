"""The queue contract: queue names, the message envelope, and the one producer every sender uses.

Names are resolved lazily so that importing a queue name (function_app does, at cold start) does not
import pydantic or the storage SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shared.messaging.errors import MessagingError
from shared.messaging.queues import Queue

if TYPE_CHECKING:
    from shared.messaging.envelope import Envelope, EnvelopeError, decode_envelope
    from shared.messaging.producer import MAX_ENCODED_BYTES, MessageTooLarge, QueueProducer, encode_body

_LAZY = {
    "Envelope": "shared.messaging.envelope",
    "EnvelopeError": "shared.messaging.envelope",
    "decode_envelope": "shared.messaging.envelope",
    "MAX_ENCODED_BYTES": "shared.messaging.producer",
    "MessageTooLarge": "shared.messaging.producer",
    "QueueProducer": "shared.messaging.producer",
    "encode_body": "shared.messaging.producer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'shared.messaging' has no attribute {name!r}")


__all__ = ["MAX_ENCODED_BYTES", "Envelope", "EnvelopeError", "MessageTooLarge", "MessagingError", "Queue",
           "QueueProducer", "decode_envelope", "encode_body"]
