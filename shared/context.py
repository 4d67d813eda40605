"""The Azure composition root: the ``shared.ports.Ports`` on Azure Tables/Queues and Partner Center, built
lazily, once per process.

Functions and the CLI get their collaborators here, so nothing does I/O at import time and a cold start pays
only for what an invocation uses. ``shared.memory.MemoryContext`` is the in-memory twin.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from shared.composition import Repositories
from shared.settings import Settings, get_settings

if TYPE_CHECKING:
    from azure.storage.queue import QueueServiceClient

    from shared.messaging.producer import AzurePoisonQueues, QueueProducer
    from shared.notify.notifier import SettingsNotifier
    from shared.partner_center import PartnerCenterClient
    from shared.storage.azure import AzureTables


class AppContext(Repositories):
    """The ports on Azure, each created on first use."""

    def __init__(self, settings: Settings) -> None:
        from shared.composition import PerLoop

        self.settings = settings
        self._pc: PerLoop[PartnerCenterClient] = PerLoop(self._new_partner_center)

    def _new_partner_center(self) -> PartnerCenterClient:
        from shared.partner_center import PartnerCenterClient

        return PartnerCenterClient.from_settings(self.settings)

    @cached_property
    def queues(self) -> QueueServiceClient:
        from shared.storage.clients import queue_service

        return queue_service(self.settings)

    @cached_property
    def tables(self) -> AzureTables:
        from shared.storage.azure import AzureTables
        from shared.storage.clients import table_service

        return AzureTables(table_service(self.settings))

    @cached_property
    def producer(self) -> QueueProducer:
        from shared.messaging.producer import QueueProducer

        return QueueProducer(self.queues)

    @cached_property
    def notifier(self) -> SettingsNotifier:
        from shared.notify.notifier import SettingsNotifier

        return SettingsNotifier(self.settings)

    @cached_property
    def poison(self) -> AzurePoisonQueues:
        from shared.messaging.producer import AzurePoisonQueues

        return AzurePoisonQueues(self.queues)

    def partner_center(self) -> PartnerCenterClient:
        """One client per event loop, from the settings."""
        return self._pc.get()


_context: AppContext | None = None
_context_key: tuple[str | None, ...] = ()


def _environment_key() -> tuple[str | None, ...]:
    import os

    return tuple(os.environ.get(f.alias or name) for name, f in Settings.model_fields.items())


def get_context() -> AppContext:
    """The process-wide context (settings validated on first call, rebuilt if the app settings change,
    as they do when the local runner or a test starts the app again with other settings)."""
    global _context, _context_key
    key = _environment_key()
    if _context is None or key != _context_key:
        from shared.observability import setup_observability

        get_settings.cache_clear()
        _context, _context_key = AppContext(get_settings()), key
        _install_clock(_context.settings)
        setup_observability(_context.settings)  # structured logs; telemetry only when configured
    return _context


def _install_clock(settings: Settings) -> None:
    """The local time machine when the (validated, local-only) setting names one; else the real clock."""
    from shared import clock

    if settings.local_clock_file is not None:
        installed = clock.current()
        if not (isinstance(installed, clock.FileClock) and installed.path == settings.local_clock_file):
            clock.use(clock.FileClock(settings.local_clock_file))
    elif isinstance(clock.current(), clock.FileClock):
        clock.use(clock.SystemClock())


def reset_context() -> None:
    """Forget the cached context and settings."""
    global _context
    _context = None
    get_settings.cache_clear()
