"""Pure queue-trigger rules of the storage extension: encoding, output splitting, retry/poison, back-off."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum
from typing import Any

from azure.functions import _abc as azf_abc

POISON_SUFFIX = "-poison"
MIN_POLL = timedelta(milliseconds=100)


class UndecodableMessage(ValueError):
    """A stored body that does not decode with the configured ``messageEncoding``."""


def poison_queue_name(queue: str) -> str:
    return queue + POISON_SUFFIX


def decode_body(text: str, encoding: str) -> bytes:
    """The message bytes the function sees; base64 bodies must be strictly valid."""
    if encoding == "none":
        return text.encode("utf-8")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise UndecodableMessage(f"message body is not valid base64: {exc}") from None


def encode_body(data: str | bytes, encoding: str) -> str:
    """Text stored on the queue for an output value, as the host writes it."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if encoding == "none":
        return raw.decode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def _split_json_array(text: str) -> list[str] | None:
    stripped = text.strip()
    if not stripped.startswith("["):
        return None
    try:
        items = json.loads(stripped)
    except json.JSONDecodeError:
        return None
    if not isinstance(items, list):
        return None
    return [i if isinstance(i, str) else json.dumps(i, separators=(",", ":")) for i in items]


def output_messages(value: Any) -> list[str | bytes]:
    """Messages written for one output-binding value; a JSON-array string becomes one per element."""
    if value is None:
        return []
    if isinstance(value, bytes):
        return [value]
    if isinstance(value, str):
        split = _split_json_array(value)
        return [value] if split is None else list(split)
    if isinstance(value, azf_abc.QueueMessage):
        return [value.get_body()]
    if isinstance(value, Iterable):
        out: list[str | bytes] = []
        for item in value:
            if isinstance(item, str | bytes):
                out.append(item)
            elif isinstance(item, azf_abc.QueueMessage):
                out.append(item.get_body())
            else:
                raise TypeError(f"invalid item in queue output list: {type(item).__name__}")
        return out
    raise TypeError(f"unsupported queue output value: {type(value).__name__}")


class Disposition(StrEnum):
    """What happens to a message after an attempt."""

    DELETE = "delete"  # succeeded
    RETRY = "retry"  # visible again after visibilityTimeout
    POISON = "poison"  # copy to <queue>-poison, then delete


def after_failure(dequeue_count: int, max_dequeue_count: int) -> Disposition:
    """A failed attempt is retried until the dequeue count reaches the maximum."""
    return Disposition.POISON if dequeue_count >= max_dequeue_count else Disposition.RETRY


def before_run(dequeue_count: int, max_dequeue_count: int) -> Disposition | None:
    """A message already past the maximum (e.g. its worker died) goes to poison without running."""
    return Disposition.POISON if dequeue_count > max_dequeue_count else None


def next_poll_delay(current: timedelta, found_messages: bool, maximum: timedelta) -> timedelta:
    """Idle back-off: poll again at once after work, double the wait while idle, up to the maximum."""
    if found_messages:
        return timedelta(0)
    doubled = max(MIN_POLL, current * 2)
    return min(doubled, maximum)
