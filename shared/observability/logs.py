"""Logging: JSON lines outside the Functions host, the correlation id stamped on every record."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from shared.observability.correlation import get_correlation_id

APP_LOGGER = "cspguard"

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


def ensure_correlation_filter(handler: logging.Handler) -> None:
    """Give a handler the correlation filter once."""
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
        ensure_correlation_filter(handler)
    logging.getLogger(APP_LOGGER).setLevel(level)
    if ours:
        return ours[0]
    if root.handlers and not force_json:
        return None
    handler = logging.StreamHandler(stream or sys.stderr)  # stdout stays clean for CLI output (--json)
    handler.setFormatter(JsonFormatter())
    ensure_correlation_filter(handler)
    handler._cspguard = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return handler
