"""Telemetry export to Application Insights (opt-in) and the app's business metrics.

``azure-monitor-opentelemetry`` and OpenTelemetry are imported only when used, so importing this module stays
cheap (standard library only) and local runs and tests stay silent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from shared.observability.logs import APP_LOGGER, configure_logging, ensure_correlation_filter

if TYPE_CHECKING:
    from azure.storage.queue import QueueServiceClient
    from opentelemetry.metrics import Meter

    from shared.settings import Settings

METER_NAME = "cspguard"


@dataclass(frozen=True)
class TelemetryConfig:
    """Whether and how to export; built from settings by :func:`telemetry_config`."""

    connection_string: str | None
    entra_auth: bool = False  # the resource has local auth disabled: authenticate with Entra
    client_id: str | None = None  # user-assigned identity; None = system-assigned

    @property
    def enabled(self) -> bool:
        return bool(self.connection_string)


def parse_authentication_string(value: str | None) -> tuple[bool, str | None]:
    """``"ClientId=<id>;Authorization=AAD"`` -> (True, "<id>"); absent or other -> (False, None)."""
    if not value:
        return False, None
    parts = {
        k.strip().lower(): v.strip() for k, _, v in (p.partition("=") for p in value.split(";")) if k.strip()
    }
    if parts.get("authorization", "").upper() != "AAD":
        return False, None
    return True, parts.get("clientid") or None


def telemetry_config(settings: Settings) -> TelemetryConfig:
    conn = settings.appinsights_connection.get_secret_value() if settings.appinsights_connection else None
    entra, client_id = parse_authentication_string(settings.appinsights_authentication)
    return TelemetryConfig(connection_string=conn or None, entra_auth=entra, client_id=client_id)


_telemetry_on = False


def configure_telemetry(config: TelemetryConfig) -> bool:
    """Start OpenTelemetry export to Application Insights if configured; True when exporting."""
    global _telemetry_on
    if not config.enabled:
        return False
    if _telemetry_on:
        return True
    from azure.monitor.opentelemetry import configure_azure_monitor

    kwargs: dict[str, Any] = {"connection_string": config.connection_string, "logger_name": APP_LOGGER}
    if config.entra_auth:
        from azure.identity import ManagedIdentityCredential

        kwargs["credential"] = (
            ManagedIdentityCredential(client_id=config.client_id)
            if config.client_id
            else ManagedIdentityCredential()
        )
    configure_azure_monitor(**kwargs)
    app_logger = logging.getLogger(APP_LOGGER)
    app_logger.propagate = False  # exported by OpenTelemetry; the host's handler would send it twice
    for handler in app_logger.handlers:
        ensure_correlation_filter(handler)
    _telemetry_on = True
    return True


def setup_observability(settings: Settings | None = None) -> bool:
    """Logging plus (when configured) telemetry export; call once at start-up. True when exporting."""
    if settings is None:
        from shared.settings import get_settings

        settings = get_settings()
    configure_logging()
    return configure_telemetry(telemetry_config(settings))


# --- business metrics ------------------------------------------------------------------------------


class Metrics:
    """The app's business metrics as OpenTelemetry instruments (no-ops until a provider is set)."""

    def __init__(self, meter: Meter) -> None:
        self._actions = meter.create_counter(
            "cspguard.actions", unit="{action}", description="Enforcement and notification actions taken"
        )
        self._failures = meter.create_counter(
            "cspguard.failures", unit="{failure}", description="Failed operations, by component and reason"
        )
        self._backlog = meter.create_gauge(
            "cspguard.queue.backlog", unit="{message}", description="Approximate messages waiting per queue"
        )
        self._poison = meter.create_gauge(
            "cspguard.queue.poison", unit="{message}", description="Messages in each queue's -poison queue"
        )

    def action(self, action: str, outcome: str = "ok", count: int = 1) -> None:
        """E.g. action("suspend", "ok"), action("reactivate", "skipped_dry_run")."""
        self._actions.add(count, {"action": action, "outcome": outcome})

    def failure(self, component: str, reason: str, count: int = 1) -> None:
        self._failures.add(count, {"component": component, "reason": reason})

    def queue_depth(self, queue: str, backlog: int, poison: int) -> None:
        self._backlog.set(backlog, {"queue": queue})
        self._poison.set(poison, {"queue": queue})


@lru_cache(maxsize=1)
def metrics() -> Metrics:
    """Process-wide metrics on the global meter provider (set by :func:`configure_telemetry`)."""
    from opentelemetry import metrics as otel_metrics

    return Metrics(otel_metrics.get_meter(METER_NAME))


def observe_queue_depths(
    service: QueueServiceClient, queues: Iterable[str], sink: Metrics | None = None
) -> dict[str, tuple[int, int]]:
    """Read each queue's and its -poison queue's approximate length and record them; a missing queue is 0."""
    from azure.core.exceptions import ResourceNotFoundError

    def depth(name: str) -> int:
        try:
            return int(service.get_queue_client(name).get_queue_properties().approximate_message_count or 0)
        except ResourceNotFoundError:
            return 0

    sink = sink or metrics()
    out: dict[str, tuple[int, int]] = {}
    for queue in queues:
        backlog, poison = depth(str(queue)), depth(f"{queue}-poison")
        sink.queue_depth(str(queue), backlog, poison)
        out[str(queue)] = (backlog, poison)
    return out
