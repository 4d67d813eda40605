"""Correlation ids: one id follows a piece of work (HTTP request, timer run, queue message) across its journey.

Kept in a contextvar, so it is right per asyncio task; standard library only.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

CORRELATION_HEADER = "x-correlation-id"

_correlation_id: ContextVar[str | None] = ContextVar("cspguard_correlation_id", default=None)
# What a caller may hand us as a correlation id: short and free of anything that could forge log lines.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,100}$")


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def get_correlation_id() -> str | None:
    """The correlation id of the work in progress, or None outside any scope."""
    return _correlation_id.get()


def clean_correlation_id(value: str | None) -> str | None:
    """A caller-supplied id if it is safe to log as is, else None (the caller then gets a new one)."""
    if value is None:
        return None
    value = value.strip()
    return value if _SAFE_ID.fullmatch(value) else None


@contextmanager
def correlation_scope(correlation_id: str | None = None) -> Iterator[str]:
    """Run a block under ``correlation_id`` (a new one if None or unsafe); restores the previous id."""
    cid = clean_correlation_id(correlation_id) or new_correlation_id()
    token = _correlation_id.set(cid)
    try:
        yield cid
    finally:
        _correlation_id.reset(token)


def correlation_from_headers(headers: Mapping[str, str]) -> str:
    """The ``x-correlation-id`` an HTTP caller sent (any header case), or a new id."""
    for name, value in headers.items():
        if name.lower() == CORRELATION_HEADER:
            cleaned = clean_correlation_id(value)
            if cleaned:
                return cleaned
    return new_correlation_id()


def correlation_for_timer(function_name: str, run_id: str | None = None) -> str:
    """A correlation id for one timer run: ``timer:<function>:<run id>`` (the invocation id if given)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", function_name)[:40] or "timer"
    run = clean_correlation_id(run_id) or new_correlation_id()
    return f"timer:{name}:{run}"[:100]
