"""The local stack through its real entry points: HTTP via the runner, real queue messages, and the
`python -m devtools.stack run|demo` commands as subprocesses."""

from __future__ import annotations

import base64
import contextlib
import json
import signal
import socket
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psutil
import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from devtools.azurite import free_port
from devtools.demo import STEPS
from devtools.stack import PORT_ENV, Stack
from devtools.stack.config import parse_env_file
from tests.e2e.conftest import Proc, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
QUEUE = "payment-events"


def test_health_reports_storage_ok_over_http(stack: Stack) -> None:
    r = httpx.get(f"{stack.app_url}/api/health", timeout=30)  # anonymous, as a probe calls it
    report = r.json()
    assert report["status"] in ("ok", "degraded"), report
    assert report["checks"]["storage"] == "ok"
    assert r.status_code == (200 if report["status"] == "ok" else 503)


def test_function_key_is_required(stack: Stack) -> None:
    url = f"{stack.app_url}/api/dead-letters"
    assert httpx.get(url, timeout=30).status_code == 401
    assert httpx.get(url, headers={"x-functions-key": "not-the-key"}, timeout=30).status_code == 401
    with stack.http() as api:
        assert api.get("/api/dead-letters").status_code == 200


def send(stack: Stack, body: str) -> None:
    """A real queue message, base64 as host.json's messageEncoding says."""
    with QueueClient.from_connection_string(stack.connection_string, QUEUE) as q:
        with contextlib.suppress(ResourceExistsError):
            q.create_queue()
        q.send_message(base64.b64encode(body.encode()).decode("ascii"))


def letters(api: httpx.Client, marker: str, include_replayed: bool = False) -> list[dict[str, Any]]:
    params = {"queue": QUEUE, **({"all": "true"} if include_replayed else {})}
    r = api.get("/api/dead-letters", params=params)
    r.raise_for_status()
    return [d for d in r.json()["items"] if marker in d["body"]]


def test_dead_letter_round_trip_through_the_runner(stack: Stack) -> None:
    marker = uuid.uuid4().hex
    body = json.dumps({"schema_version": 1, "kind": "no.such.kind", "idempotency_key": marker, "payload": {}})
    send(stack, body)
    with stack.http() as api:
        first = wait_until(lambda: (letters(api, marker) or None), "the message to be parked")[0]
        assert "unknown kind 'no.such.kind'" in first["reason"]
        assert first["body"] == body

        url = f"/api/dead-letters/{QUEUE}/{first['id']}/replay"
        assert api.post(f"/api/dead-letters/{QUEUE}/no-such-letter/replay",
                        headers={"x-actor": "ops"}).status_code == 404
        assert api.post(url).status_code == 400  # a replay names who does it
        refused = api.post(url, headers={"x-actor": "ops"})  # as stored: as invalid as when it came
        assert refused.status_code == 400 and "unknown kind" in refused.json()["error"]
        assert letters(api, marker)[0]["status"] == "waiting"


def free_stack_ports() -> dict[str, str]:
    return {var: str(free_port()) for var in PORT_ENV.values()}


def test_demo_command_passes_every_step(spawn: Callable[[list[str], dict[str, str]], Proc]) -> None:
    proc = spawn(["demo", "--customers", "4"], {})
    rc = proc.finish(timeout=90)
    assert rc == 0, proc.output
    for n, (title, _) in enumerate(STEPS, 1):
        assert f"[{n}/{len(STEPS)}] {title}" in proc.output
    assert "FAILED" not in proc.output
    assert "cspguard pc customers --json -> 4 customers" in proc.output
    assert "nothing is staged by hand" in proc.output and 'POST /api/clock {"advance": "8d"}' in proc.output
    assert "demo complete: every step passed" in proc.output


def test_run_serves_then_stops_cleanly_on_sigint(spawn: Callable[[list[str], dict[str, str]], Proc],
                                                 tmp_path: Any) -> None:
    from datetime import timedelta

    from shared.clock import FileClock

    FileClock(tmp_path / "clock.json").advance(timedelta(hours=2))  # a clock moved by an earlier make run
    ports = free_stack_ports()
    proc = spawn(["run", "--state-dir", str(tmp_path), "--customers", "3", "--no-timers"], ports)
    proc.wait_for_line("Ctrl-C (or SIGTERM) stops everything")
    app_port, queue_port = ports[PORT_ENV["app"]], ports[PORT_ENV["queue"]]
    assert f"http://127.0.0.1:{app_port}/api" in proc.output
    assert "moved +2h ahead of real time" in proc.output  # the banner shows a clock that is not real time

    env = parse_env_file((tmp_path / "stack.env").read_text())
    assert f"QueueEndpoint=http://127.0.0.1:{queue_port}/" in env["AzureWebJobsStorage"]
    assert env["CSPGUARD_SMTP_PORT"] == ports[PORT_ENV["smtp"]]
    assert (tmp_path / "sandbox" / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE")
    assert env["CSPGUARD_PC_CA_BUNDLE"] == str((tmp_path / "sandbox" / "ca.pem").resolve())
    assert env["CSPGUARD_LOCAL_CLOCK_FILE"] == str(tmp_path / "clock.json")
    from typer.testing import CliRunner

    from cli.main import app

    shown = CliRunner().invoke(app, ["clock", "advance", "1d", "--json"], env=env)  # = --env-file var/stack.env
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["offset"] == "+1d 2h"
    clock = httpx.get(f"http://127.0.0.1:{app_port}/api/clock", headers={"x-actor": "tester@partner.example"},
                      timeout=30).json()
    assert clock["offset"] == "+1d 2h" and clock["real_time"] is False
    health = httpx.get(f"http://127.0.0.1:{app_port}/api/health", timeout=30).json()
    assert health["checks"]["storage"] == "ok"

    children = psutil.Process(proc.popen.pid).children(recursive=True)
    assert any("azurite" in " ".join(c.cmdline()) for c in children)  # the check below can fail
    proc.popen.send_signal(signal.SIGINT)
    assert proc.finish(timeout=60) == 0, proc.output
    assert "stopped" in proc.output
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"left running: {alive}"
    assert not (tmp_path / "stack.env").exists()
    for var in PORT_ENV.values():
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine, a listener is not
            s.bind(("127.0.0.1", int(ports[var])))


def test_run_refuses_a_taken_port_with_a_clear_message(spawn: Callable[[list[str], dict[str, str]], Proc],
                                                       tmp_path: Any) -> None:
    ports = free_stack_ports()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(ports[PORT_ENV["sandbox"]])))
        blocker.listen()
        proc = spawn(["run", "--state-dir", str(tmp_path)], ports)
        rc = proc.finish(timeout=30)
    assert rc == 2
    assert f"Partner Center sandbox port {ports[PORT_ENV['sandbox']]}" in proc.output
    assert "already in use" in proc.output
    assert not (tmp_path / "stack.env").exists()


def test_sigterm_then_a_second_signal_forces_and_leaves_nothing(
        spawn: Callable[[list[str], dict[str, str]], Proc], tmp_path: Any) -> None:
    proc = spawn(["run", "--state-dir", str(tmp_path), "--customers", "2", "--no-timers"], free_stack_ports())
    proc.wait_for_line("Ctrl-C (or SIGTERM) stops everything")
    children = psutil.Process(proc.popen.pid).children(recursive=True)
    assert children
    proc.popen.send_signal(signal.SIGTERM)
    proc.popen.send_signal(signal.SIGINT)
    rc = proc.finish(timeout=60)
    # 130 when the second signal arrived while stopping (forced), 0 when the clean stop had already finished
    assert rc in (0, 130), proc.output
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"left running: {alive}"
    assert not (tmp_path / "stack.env").exists()
