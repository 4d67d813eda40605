"""``Stack``: Azurite, the Partner Center sandbox, the SMTP mailbox and the local runner, started together.

    with Stack(StackConfig(free_ports=True)) as stack:
        with stack.http() as api:
            api.get("/api/health")

Start order is dependency order (storage, Partner Center, mail, then the app that uses them); stop is the
reverse, and every piece is stopped even if another fails to, so nothing is left listening.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import tempfile
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import httpx

from devtools.azurite import Azurite, free_port
from devtools.mailbox import Mailbox
from devtools.runner import LocalRunner
from devtools.runner.metadata import load_local_settings, read_settings_file
from devtools.runner.runner import keys_from
from devtools.sandbox import Sandbox, SandboxConfig
from devtools.stack.config import (
    CLOCK_FILE,
    ENV_FILE,
    REPO,
    Endpoints,
    StackConfig,
    StackError,
    app_settings,
    banner,
    env_file_text,
    resolve_relative_paths,
    stack_overrides,
)

T = TypeVar("T")

# Settings naming repo files: made absolute so the app finds them whatever the working directory.
PATH_SETTINGS = ("CSPGUARD_POLICY_FILE", "CSPGUARD_POLICY_ARCHIVE_DIR", "CSPGUARD_FRAUD_RULES_FILE",
                 "CSPGUARD_CALENDAR_OVERRIDES_FILE")


def taken_ports(wanted: dict[str, int]) -> list[str]:
    """Which of the fixed ports cannot be bound on 127.0.0.1 (port 0 is never taken)."""
    busy = []
    for label, port in wanted.items():
        if port == 0:
            continue
        with socket.socket() as s:
            # as the servers do: a port in TIME_WAIT after the last run is free; a listener is not
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                busy.append(f"{label} port {port}")
    return busy


class Stack:
    """The whole local stack; ``start()`` returns once every service listens. Also a context manager."""

    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.azurite: Azurite | None = None
        self.sandbox: Sandbox | None = None
        self.mailbox: Mailbox | None = None
        self.runner: LocalRunner | None = None
        self.settings: dict[str, str] = {}
        self.overrides: dict[str, str] = {}
        self._azurite_pid: int | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="cspguard-stack-") if self.config.free_ports else None

    # ------------------------------------------------------------------ public surface

    @property
    def connection_string(self) -> str:
        return self._need(self.azurite, "azurite").connection_string

    @property
    def app_url(self) -> str:
        return self._need(self.runner, "runner").base_url

    @property
    def function_key(self) -> str:
        return keys_from(self.settings).function

    @property
    def env_file(self) -> Path | None:
        """``state_dir/stack.env`` for make run; none in free-port mode (nothing outside should rely on it)."""
        return None if self.config.free_ports else self.config.state_dir / ENV_FILE

    @property
    def clock_file(self) -> Path:
        """The time machine every process of this stack reads (kept with the state, so it survives restarts)."""
        return Path(self._tmp.name) / CLOCK_FILE if self._tmp is not None else self.config.state_dir / CLOCK_FILE

    def clock_line(self) -> str | None:
        """``2026-12-20T09:00:00+08:00 (moved +19d 3h; real time ...)``, or None while it is real time."""
        from shared.clock import FileClock, describe

        shown = describe(FileClock(self.clock_file))
        if shown["real_time"]:
            return None
        return f"{shown['now_beijing']} Beijing, moved {shown['offset']} ahead of real time (cspguard clock show)"

    def http(self, timeout: float = 30.0) -> httpx.Client:
        """A client for the app: base URL, function key (system ingress) and a local ``X-Actor`` (person-facing
        routes; the local runner's development sign-in accepts it) set. Close it, or use it as a context manager."""
        return httpx.Client(base_url=self.app_url, timeout=timeout,
                            headers={"x-functions-key": self.function_key, "x-actor": "devtools-stack@local"})

    def sandbox_admin(self, timeout: float = 30.0) -> httpx.Client:
        """A client for the sandbox (API and /_sandbox admin endpoints), trusting its CA only."""
        sb = self._need(self.sandbox, "sandbox")
        return httpx.Client(base_url=sb.base_url, verify=sb.ssl_context(), timeout=timeout)

    def banner(self, notes: tuple[str, ...] = ()) -> str:
        az, sb, mb = self._need(self.azurite, "azurite"), self._need(self.sandbox, "sandbox"), self._need(
            self.mailbox, "mailbox")
        return banner(app_url=self.app_url, function_key=self.function_key, sandbox_url=sb.base_url,
                      ca_pem=sb.ca_pem_path, storage_ports=(az.blob_port, az.queue_port, az.table_port),
                      smtp_port=mb.port, mail_dir=mb.directory, env_file=self.env_file,
                      customers=sb.config.customers, notes=notes, clock=self.clock_line())

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Stack:
        cfg = self.config
        if not cfg.free_ports:
            busy = taken_ports(cfg.ports.labelled())
            if busy:
                raise StackError(f"cannot start the local stack: {', '.join(busy)} already in use on 127.0.0.1 "
                                 "(another `make run`?). Stop it, or move this stack with CSPGUARD_STACK_*_PORT.")
        try:
            self._start_services()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_services(self) -> None:
        cfg, state = self.config, self.config.state_dir
        if cfg.free_ports:
            self.azurite = Azurite.on_free_ports()
        else:
            (state / "azurite").mkdir(parents=True, exist_ok=True)
            p = cfg.ports
            self.azurite = Azurite(blob_port=p.blob or free_port(), queue_port=p.queue or free_port(),
                                   table_port=p.table or free_port(), workdir=state / "azurite", in_memory=False)
        self.azurite.start()
        self._azurite_pid = self.azurite.pid
        sandbox_config = SandboxConfig(seed=cfg.seed, customers=cfg.customers, clock_file=self.clock_file,
                                       port=0 if cfg.free_ports else cfg.ports.sandbox)
        self.sandbox = Sandbox(sandbox_config, state_dir=None if cfg.free_ports else state / "sandbox").start()
        self.mailbox = Mailbox(port=0 if cfg.free_ports else cfg.ports.smtp,
                               directory=None if cfg.free_ports else state / "mailbox").start()
        sb = self.sandbox
        self.overrides = stack_overrides(Endpoints(
            storage_connection=self.azurite.connection_string, pc_base_url=sb.base_url,
            pc_authority_host=sb.authority_host, pc_ca_bundle=sb.ca_pem_path.resolve(), pc_tenant_id=sb.tenant_id,
            pc_client_id=sb.client_id, pc_client_secret=sb.client_secret, smtp_port=self.mailbox.port,
            clock_file=self.clock_file))
        file_values = read_settings_file(cfg.settings_file) if cfg.settings_file else load_local_settings(REPO)
        self.settings = resolve_relative_paths(
            app_settings(file_values, os.environ, self.overrides, cfg.extra_settings), PATH_SETTINGS, REPO)
        self.runner = LocalRunner(settings=self.settings, host_json=REPO / "host.json",
                                  port=0 if cfg.free_ports else cfg.ports.app, enable_timers=cfg.timers).start()
        if self.env_file is not None:
            self.env_file.write_text(env_file_text(self.overrides), encoding="utf-8")
            self.env_file.chmod(0o600)  # holds the sandbox client secret

    def stop(self) -> None:
        """Reverse order; each step runs even if an earlier one raised (the first error is re-raised)."""
        errors: list[BaseException] = []
        for step in (self._stop_runner, self._stop_mailbox, self._stop_sandbox, self._stop_azurite,
                     self._remove_env_file):
            try:
                step()
            except Exception as exc:  # keep stopping the rest
                errors.append(exc)
        if errors:
            raise errors[0]

    def force_stop(self) -> None:
        """Last resort (second Ctrl-C): kill Azurite's process group; threads die with the process."""
        kill_group(self._azurite_pid, signal.SIGKILL)
        self._remove_env_file()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals

    def _stop_runner(self) -> None:
        if self.runner is not None:
            runner, self.runner = self.runner, None
            runner.stop()

    def _stop_mailbox(self) -> None:
        if self.mailbox is not None:
            mailbox, self.mailbox = self.mailbox, None
            mailbox.stop()

    def _stop_sandbox(self) -> None:
        if self.sandbox is not None:
            sandbox, self.sandbox = self.sandbox, None
            sandbox.stop()

    def _stop_azurite(self) -> None:
        if self.azurite is not None:
            azurite, self.azurite = self.azurite, None
            azurite.stop()
        # Azurite runs in its own session: sweep the group in case node left a child behind.
        kill_group(self._azurite_pid, signal.SIGTERM)
        self._azurite_pid = None

    def _remove_env_file(self) -> None:
        if self.env_file is not None:
            self.env_file.unlink(missing_ok=True)

    @staticmethod
    def _need(value: T | None, what: str) -> T:
        if value is None:
            raise RuntimeError(f"the stack's {what} is not running (call start() first)")
        return value


def kill_group(pgid: int | None, sig: signal.Signals) -> None:
    """Signal a process group, ignoring one that is already gone."""
    if pgid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
