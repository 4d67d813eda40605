"""The in-memory composition root: every port on dictionaries, for the functional tests (no Azurite, no runner).

The repositories, audit, idempotency and dead-letter code is the production code over ``MemoryTables``; the
publisher records what was sent (``queues``) for the test to deliver; Partner Center is whatever client the
caller passes (the functional tests pass the real client over the sandbox app in-process).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from shared.composition import PerLoop, Repositories
from shared.messaging.memory import MemoryQueues
from shared.storage.memory import MemoryTables

if TYPE_CHECKING:
    from shared.notify.notifier import MemoryNotifier
    from shared.ports import PartnerCenter
    from shared.settings import Settings


class MemoryContext(Repositories):
    """``Ports`` over memory. ``partner_center`` builds the client (called once per event loop, like the Azure root)."""

    def __init__(self, settings: Settings, partner_center: Callable[[], PartnerCenter] | None = None) -> None:
        self.settings = settings
        self._tables = MemoryTables()
        self.queues = MemoryQueues()
        self._pc = PerLoop(partner_center) if partner_center is not None else None

    @property
    def tables(self) -> MemoryTables:
        return self._tables

    @property
    def producer(self) -> MemoryQueues:
        return self.queues

    @property
    def poison(self) -> MemoryQueues:
        return self.queues

    @cached_property
    def notifier(self) -> MemoryNotifier:
        from shared.notify.notifier import MemoryNotifier

        return MemoryNotifier(self.settings)

    def partner_center(self) -> PartnerCenter:
        if self._pc is None:
            raise RuntimeError("this MemoryContext has no Partner Center (pass partner_center=...)")
        return self._pc.get()


__all__ = ["MemoryContext"]
