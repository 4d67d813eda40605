"""An asyncio event loop on virtual time: when nothing is ready, time jumps to the next timer.

For tests over ``httpx.MockTransport`` (no real I/O): ``asyncio.sleep``, ``loop.call_at`` and the
pacer's timers all run on this clock, so minutes of pacing take milliseconds and never depend on
the machine's speed.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _Selector(selectors.DefaultSelector):
    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0)
        if not events and timeout is not None and timeout > 0:
            self._loop.now += timeout  # nothing to do until the next timer: jump to it
        elif not events and timeout is None:
            raise RuntimeError("virtual time: every task waits and no timer is armed (deadlock)")
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_Selector(self))

    def time(self) -> float:
        return self.now


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
