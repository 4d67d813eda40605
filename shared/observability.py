"""Logging, correlation ids, telemetry export and business metrics.

One correlation id follows a piece of work across its whole journey: it is set from the envelope's
``correlation_id`` (queue triggers), the ``x-correlation-id`` header (HTTP) or a timer run id, kept in
a contextvar (so it is right per asyncio task), and stamped on every log record by
:class:`CorrelationFilter`. Producers copy :func:`get_correlation_id` into the envelopes they send.

Export to Application Insights happens only when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set:
``azure-monitor-opentelemetry`` is imported then and only then, so importing this module stays cheap
(standard library only) and local runs and tests stay silent.

Where logs go: the Functions host already forwards every Python log record to Application Insights
as a trace, but only its message text. Records under the ``cspguard`` logger (use :func:`get_logger`)
are exported through OpenTelemetry instead, with ``correlation_id`` and every ``extra=`` field as
custom dimensions, and stop propagating to the host's handler so they are not sent twice.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from azure.storage.queue import QueueServiceClient
    from opentelemetry.metrics import Meter

    from shared.settings import Settings

CORRELATION_HEADER = "x-correlation-id"
APP_LOGGER = "cspguard"
METER_NAME = "cspguard"

_correlation_id: ContextVar[str | None] = ContextVar("cspguard_correlation_id", default=None)
# What a caller may hand us as a correlation id: short and free of anything that could forge log lines.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,100}$")


# --- correlation ids -------------------------------------------------------------------------------


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


# --- logging ---------------------------------------------------------------------------------------

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is worth keeping.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class CorrelationFilter(logging.Filter):
    """Stamps ``record.correlation_id`` from the current scope (an explicit ``extra=`` value wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "correlation_id", None) is None:
            record.correlation_id = get_correlation_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, correlation id, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in out:
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def get_logger(area: str) -> logging.Logger:
    """A logger under ``cspguard`` (exported with custom dimensions when telemetry is on)."""
    return logging.getLogger(f"{APP_LOGGER}.{area}" if area else APP_LOGGER)


def _ensure_filter(handler: logging.Handler) -> None:
    if not any(isinstance(f, CorrelationFilter) for f in handler.filters):
        handler.addFilter(CorrelationFilter())


def configure_logging(
    level: int | str = "INFO", *, stream: TextIO | None = None, force_json: bool = False
) -> logging.Handler | None:
    """Idempotent logging setup; returns the JSON handler it owns, if any.

    Inside the Functions host the root logger already has the worker's handler: it only gets the
    correlation filter. Elsewhere (CLI, local runner, tests) a JSON-lines handler goes on the root.
    """
    root = logging.getLogger()
    # the storage SDK logs every HTTP request at INFO: thousands of lines per sweep that bury the app's own
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the Partner Center client logs each call itself
    ours = [h for h in root.handlers if getattr(h, "_cspguard", False)]
    for handler in root.handlers:
        _ensure_filter(handler)
    logging.getLogger(APP_LOGGER).setLevel(level)
    if ours:
        return ours[0]
    if root.handlers and not force_json:
        return None
    handler = logging.StreamHandler(stream or sys.stderr)  # stdout stays clean for CLI output (--json)
    handler.setFormatter(JsonFormatter())
    _ensure_filter(handler)
    handler._cspguard = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return handler


# --- telemetry export ------------------------------------------------------------------------------


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
        _ensure_filter(handler)
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
