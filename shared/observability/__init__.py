"""Logging, correlation ids, telemetry export and business metrics (``correlation``, ``logs``, ``telemetry``).

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

from shared.observability.correlation import (
    CORRELATION_HEADER,
    clean_correlation_id,
    correlation_for_timer,
    correlation_from_headers,
    correlation_scope,
    get_correlation_id,
    new_correlation_id,
)
from shared.observability.logs import (
    APP_LOGGER,
    CorrelationFilter,
    JsonFormatter,
    configure_logging,
    ensure_correlation_filter,
    get_logger,
)
from shared.observability.telemetry import (
    METER_NAME,
    Metrics,
    TelemetryConfig,
    configure_telemetry,
    metrics,
    observe_queue_depths,
    parse_authentication_string,
    setup_observability,
    telemetry_config,
)

__all__ = [
    "APP_LOGGER",
    "CORRELATION_HEADER",
    "METER_NAME",
    "CorrelationFilter",
    "JsonFormatter",
    "Metrics",
    "TelemetryConfig",
    "clean_correlation_id",
    "configure_logging",
    "configure_telemetry",
    "correlation_for_timer",
    "correlation_from_headers",
    "correlation_scope",
    "ensure_correlation_filter",
    "get_correlation_id",
    "get_logger",
    "metrics",
    "new_correlation_id",
    "observe_queue_depths",
    "parse_authentication_string",
    "setup_observability",
    "telemetry_config",
]
