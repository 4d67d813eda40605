"""shared.observability: correlation ids, JSON logs, opt-in export, business metrics."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from shared import observability as obs


def test_scope_sets_and_restores_the_id() -> None:
    assert obs.get_correlation_id() is None
    with obs.correlation_scope("outer-1") as outer:
        assert outer == "outer-1" == obs.get_correlation_id()
        with obs.correlation_scope("inner-2"):
            assert obs.get_correlation_id() == "inner-2"
        assert obs.get_correlation_id() == "outer-1"
    assert obs.get_correlation_id() is None


def test_unsafe_or_missing_ids_are_replaced_by_new_ones() -> None:
    with obs.correlation_scope("bad\nid: forged log line") as cid:
        assert "\n" not in cid and len(cid) == 36
    with obs.correlation_scope(None) as a, obs.correlation_scope(None) as b:
        assert a != b


async def test_concurrent_tasks_keep_their_own_ids() -> None:
    async def work(cid: str) -> str | None:
        with obs.correlation_scope(cid):
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            return obs.get_correlation_id()

    assert await asyncio.gather(work("a"), work("b"), work("c")) == ["a", "b", "c"]


def test_http_header_is_used_in_any_case_else_a_new_id() -> None:
    assert obs.correlation_from_headers({"X-Correlation-ID": "req-42"}) == "req-42"
    assert obs.correlation_from_headers({"x-correlation-id": " req-43 "}) == "req-43"
    fresh = obs.correlation_from_headers({"x-correlation-id": "<script>"})
    assert fresh != "<script>" and len(fresh) == 36


def test_timer_ids_name_the_function_and_the_run() -> None:
    assert obs.correlation_for_timer("collections_sweep", "inv-1") == "timer:collections_sweep:inv-1"
    a, b = obs.correlation_for_timer("fraud scan"), obs.correlation_for_timer("fraud scan")
    assert a.startswith("timer:fraud_scan:") and a != b


@given(st.text(max_size=300))
def test_cleaned_ids_are_always_safe_to_log(value: str) -> None:
    cleaned = obs.clean_correlation_id(value)
    assert cleaned is None or (0 < len(cleaned) <= 100 and cleaned.isprintable() and " " not in cleaned)


def _json_logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(obs.JsonFormatter())
    handler.addFilter(obs.CorrelationFilter())
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_every_record_carries_the_correlation_id_and_extras_as_json() -> None:
    logger, stream = _json_logger("cspguard.test.json")
    with obs.correlation_scope("corr-7"):
        logger.info("suspended %s", "sub-1", extra={"customer_id": "c-1", "amount": 12.5})
    logger.info("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "suspended sub-1"
    assert first["correlation_id"] == "corr-7"
    assert first["customer_id"] == "c-1" and first["amount"] == 12.5
    assert first["level"] == "INFO" and first["logger"] == "cspguard.test.json"
    assert second["correlation_id"] is None


def test_exceptions_stay_on_one_json_line() -> None:
    logger, stream = _json_logger("cspguard.test.exc")
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logger.exception("failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert "ValueError: boom" in record["exception"]


def test_configure_logging_is_idempotent_and_filters_existing_handlers() -> None:
    root = logging.getLogger()
    saved = root.handlers[:]
    existing = logging.StreamHandler(io.StringIO())
    try:
        root.handlers[:] = [existing]
        assert obs.configure_logging() is None  # inside a host: only the filter is added
        assert any(isinstance(f, obs.CorrelationFilter) for f in existing.filters)
        root.handlers[:] = []
        stream = io.StringIO()
        ours = obs.configure_logging(stream=stream)
        assert ours is not None and obs.configure_logging(stream=stream) is ours
        assert root.handlers == [ours]
        with obs.correlation_scope("c-9"):
            logging.getLogger("shared.anything").warning("hello")
        assert json.loads(stream.getvalue())["correlation_id"] == "c-9"
    finally:
        root.handlers[:] = saved


def test_authentication_string_parsing() -> None:
    assert obs.parse_authentication_string("ClientId=abc-123;Authorization=AAD") == (True, "abc-123")
    assert obs.parse_authentication_string("Authorization=AAD") == (True, None)
    assert obs.parse_authentication_string("") == (False, None)
    assert obs.parse_authentication_string("ClientId=abc") == (False, None)


def test_without_a_connection_string_nothing_is_exported_or_imported() -> None:
    code = (
        "import sys; from shared.observability import TelemetryConfig, configure_telemetry;"
        "assert configure_telemetry(TelemetryConfig(connection_string=None)) is False;"
        "assert not [m for m in sys.modules if m.startswith(('azure.monitor', 'opentelemetry'))], 'heavy';"
        "import shared.observability as o; assert 'pydantic' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def _points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    data = reader.get_metrics_data()
    assert data is not None
    out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    value = getattr(p, "value", None)  # sums and gauges; histograms have none
                    out.setdefault(metric.name, []).append((dict(p.attributes or {}), value))
    return out


def test_business_metrics_reach_an_opentelemetry_reader() -> None:
    reader = InMemoryMetricReader()
    m = obs.Metrics(MeterProvider(metric_readers=[reader]).get_meter("test"))
    m.action("suspend", "ok")
    m.action("suspend", "ok", count=2)
    m.action("reactivate", "failed")
    m.failure("partner_center", "throttled")
    m.queue_depth("enforcement-actions", backlog=12, poison=1)
    points = _points(reader)
    assert ({"action": "suspend", "outcome": "ok"}, 3) in points["cspguard.actions"]
    assert ({"action": "reactivate", "outcome": "failed"}, 1) in points["cspguard.actions"]
    assert points["cspguard.failures"] == [({"component": "partner_center", "reason": "throttled"}, 1)]
    assert points["cspguard.queue.backlog"] == [({"queue": "enforcement-actions"}, 12)]
    assert points["cspguard.queue.poison"] == [({"queue": "enforcement-actions"}, 1)]


@pytest.mark.integration
def test_queue_depths_are_read_from_storage(storage_connection: str, unique_name: str) -> None:
    from azure.storage.queue import QueueServiceClient

    service = QueueServiceClient.from_connection_string(storage_connection)
    main, absent = f"{unique_name}a", f"{unique_name}b"
    service.create_queue(main)
    service.create_queue(f"{main}-poison")
    for i in range(3):
        service.get_queue_client(main).send_message(f"m{i}")
    service.get_queue_client(f"{main}-poison").send_message("p")
    reader = InMemoryMetricReader()
    sink = obs.Metrics(MeterProvider(metric_readers=[reader]).get_meter("test"))
    assert obs.observe_queue_depths(service, [main, absent], sink) == {main: (3, 1), absent: (0, 0)}
    assert ({"queue": main}, 3) in _points(reader)["cspguard.queue.backlog"]
