"""Waiting for asynchronous effects (queue processing, Partner Center changes) in tests, the demo and benches."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T | None], what: str = "condition", timeout: float = 30.0,
               interval: float = 0.2) -> T:
    """Poll ``check`` until it returns something truthy and return it; TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
