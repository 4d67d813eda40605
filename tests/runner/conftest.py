"""Fixtures: a LocalRunner over the sample app with fresh queue names, a test host.json, a free port."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.storage.queue import QueueServiceClient

from devtools.runner import LocalRunner

FAST_QUEUES = {"batchSize": 4, "newBatchThreshold": 2, "maxPollingInterval": "00:00:00.200",
               "visibilityTimeout": "00:00:00", "maxDequeueCount": 3, "messageEncoding": "base64"}


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll until ``condition()`` is truthy; fail (not hang) if it never becomes so."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Harness:
    """One started runner plus handy storage access for a test."""

    def __init__(self, runner: LocalRunner, service: QueueServiceClient, names: dict[str, str]) -> None:
        self.runner = runner
        self.service = service
        self.names = names

    @property
    def app(self) -> Any:
        return self.runner.module

    def send(self, queue_key: str, text: str, *, raw: bool = False) -> None:
        client = self.service.get_queue_client(self.names[queue_key])
        client.send_message(text if raw else b64(text))

    def send_json(self, queue_key: str, body: dict[str, Any]) -> None:
        self.send(queue_key, json.dumps(body))

    def drain(self, name: str) -> list[str]:
        """Raw stored bodies currently on a queue (removes them)."""
        client = self.service.get_queue_client(name)
        out = []
        for m in client.receive_messages(messages_per_page=32):
            out.append(m.content)
            client.delete_message(m)
        return out

    def peek(self, name: str) -> list[str]:
        client = self.service.get_queue_client(name)
        try:
            return [m.content for m in client.peek_messages(max_messages=32)]
        except Exception:
            return []


@pytest.fixture
def make_runner(
    storage_connection: str, unique_name: str, tmp_path: Path
) -> Iterator[Callable[..., Harness]]:
    runners: list[LocalRunner] = []

    def make(queues: dict[str, Any] | None = None, *, enable_timers: bool = False,
             extra: dict[str, str] | None = None) -> Harness:
        names = {"SAMPLE_QUEUE": f"{unique_name}-in", "SAMPLE_ASYNC_QUEUE": f"{unique_name}-async",
                 "SAMPLE_OUT_QUEUE": f"{unique_name}-out"}
        settings = {"AzureWebJobsStorage": storage_connection, "SAMPLE_SCHEDULE": "0 0 0 1 1 *",
                    **names, **(extra or {})}
        host = tmp_path / "host.json"
        host.write_text(json.dumps({"version": "2.0", "extensions": {
            "queues": {**FAST_QUEUES, **(queues or {})}, "http": {"routePrefix": "api"}}}))
        runner = LocalRunner("tests.runner.sample_app", settings, host, port=0, enable_timers=enable_timers,
                             drain_timeout=5.0)
        runners.append(runner)
        runner.start()
        return Harness(runner, QueueServiceClient.from_connection_string(storage_connection), names)

    yield make
    for r in runners:
        r.stop()
