"""What both composition roots share: the repositories, built once over whichever ``Tables`` the root holds.

``AppContext`` (Azure) and ``MemoryContext`` (memory) differ only in their adapters; the repositories, audit,
idempotency claims and dead letters are the same code over the ``Table`` port, created on first use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from shared.ports import Ports
    from shared.services.fraud.store import FraudStores
    from shared.services.state import Stores
    from shared.storage.audit import AuditLog
    from shared.storage.deadletters import DeadLetterStore
    from shared.storage.idempotency import IdempotencyStore
    from shared.storage.ports import Tables

C = TypeVar("C")


class _HasTables(Protocol):
    @property
    def tables(self) -> Tables: ...


class Repositories:
    """Mixin: a root that has a ``tables`` adapter (``_HasTables``) gets its repositories from here."""

    @cached_property
    def stores(self: _HasTables) -> Stores:
        from shared.services.state import Stores

        return Stores(self.tables)

    @cached_property
    def fraud(self: _HasTables) -> FraudStores:
        from shared.services.fraud.store import FraudStores

        return FraudStores(self.tables)

    @cached_property
    def audit(self: _HasTables) -> AuditLog:
        from shared.storage.audit import AuditLog

        return AuditLog(self.tables)

    @cached_property
    def idempotency(self: _HasTables) -> IdempotencyStore:
        from shared.storage.idempotency import IdempotencyStore

        return IdempotencyStore(self.tables)

    @cached_property
    def deadletters(self: _HasTables) -> DeadLetterStore:
        """Every newly kept letter is counted, and the team told when it names no customer (``on_kept``)."""
        from shared.services.deadletters import on_kept
        from shared.storage.deadletters import DeadLetterStore

        ports: Ports = self  # type: ignore[assignment]  # a root is a Ports once its adapters are set
        return DeadLetterStore(self.tables, on_kept=lambda letter: on_kept(ports, letter))


class PerLoop(Generic[C]):
    """One client per event loop (httpx async clients are bound to the loop that made them)."""

    def __init__(self, make: Callable[[], C]) -> None:
        self._make = make
        self._clients: dict[int, C] = {}

    def get(self) -> C:
        loop = id(asyncio.get_running_loop())
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._make()
        return client


__all__ = ["PerLoop", "Repositories"]
