"""The in-memory composition root: every port on dictionaries, for the functional tests (no Azurite, no runner).

The repositories, audit, idempotency and dead-letter code is the production code over ``MemoryTables``; the
publisher records what was sent (``queues``) for the test to deliver; Partner Center is whatever client the
caller passes (the functional tests pass the real client over the sandbox app in-process).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from shared.messaging.memory import MemoryQueues
from shared.storage.memory import MemoryTables

if TYPE_CHECKING:
    from shared.notify.notifier import MemoryNotifier
    from shared.ports import PartnerCenter
    from shared.services.fraud.store import FraudStores
    from shared.services.state import Stores
    from shared.settings import Settings
    from shared.storage.audit import AuditLog
    from shared.storage.deadletters import DeadLetterStore
    from shared.storage.idempotency import IdempotencyStore


class MemoryContext:
    """``Ports`` over memory. ``partner_center`` builds the client (called once per event loop, like the Azure root)."""

    def __init__(self, settings: Settings, partner_center: Callable[[], PartnerCenter] | None = None) -> None:
        self.settings = settings
        self.tables = MemoryTables()
        self.queues = MemoryQueues()
        self._make_pc = partner_center
        self._pc: dict[int, PartnerCenter] = {}

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

    @cached_property
    def stores(self) -> Stores:
        from shared.services.state import Stores

        return Stores(self.tables)

    @cached_property
    def fraud(self) -> FraudStores:
        from shared.services.fraud.store import FraudStores

        return FraudStores(self.tables)

    @cached_property
    def audit(self) -> AuditLog:
        from shared.storage.audit import AuditLog

        return AuditLog(self.tables)

    @cached_property
    def idempotency(self) -> IdempotencyStore:
        from shared.storage.idempotency import IdempotencyStore

        return IdempotencyStore(self.tables)

    @cached_property
    def deadletters(self) -> DeadLetterStore:
        from shared.services.deadletters import on_kept
        from shared.storage.deadletters import DeadLetterStore

        return DeadLetterStore(self.tables, on_kept=lambda letter: on_kept(self, letter))

    def partner_center(self) -> PartnerCenter:
        import asyncio

        if self._make_pc is None:
            raise RuntimeError("this MemoryContext has no Partner Center (pass partner_center=...)")
        loop = id(asyncio.get_running_loop())
        if loop not in self._pc:
            self._pc[loop] = self._make_pc()
        return self._pc[loop]


__all__ = ["MemoryContext"]
