"""LocalRunner: hosts function_app.py locally the way the Functions host does.

It sees only what the host sees: app settings exported to the environment before import, one
``app.get_functions()`` call, each function's ``get_function_json()`` and ``get_user_function()``,
and host.json. Everything runs on one background event loop, so tests and the stack launcher can
start and stop it in-process.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func
import uvicorn
from azure.functions.queue import QueueMessage as FuncQueueMessage

from devtools.runner.http import build_http_app
from devtools.runner.invoke import Invocation, invoke
from devtools.runner.metadata import (
    FunctionSpec,
    HostOptions,
    QueueTrigger,
    TimerTrigger,
    load_local_settings,
    parse_function,
    parse_host_json,
)
from devtools.runner.queues import OutputWriter, QueueListener, StorageClients
from devtools.runner.routes import Keys
from devtools.runner.timers import Schedule, TimerScheduler
from shared.auth import LOCAL_SIGNIN_SETTING
from shared.clock import for_file

log = logging.getLogger("devtools.runner")

# Local-development keys (documented defaults, not secrets); override with these app settings.
FUNCTION_KEY_SETTING = "CSPGUARD_LOCAL_FUNCTION_KEY"
HOST_KEY_SETTING = "CSPGUARD_LOCAL_HOST_KEY"
MASTER_KEY_SETTING = "CSPGUARD_LOCAL_MASTER_KEY"
DEFAULT_KEYS = Keys(function="local-function-key", host="local-host-key", master="local-master-key")
CLOCK_SETTING = "CSPGUARD_LOCAL_CLOCK_FILE"  # the local stack's time machine: timers follow the app's clock


def effective_settings(explicit: Mapping[str, str] | None, directory: Path) -> dict[str, str]:
    """Explicit settings as given; otherwise local.settings(.example).json with the environment winning."""
    if explicit is not None:
        return dict(explicit)
    values = load_local_settings(directory)
    return {k: os.environ.get(k, v) for k, v in values.items()}


def keys_from(settings: Mapping[str, str]) -> Keys:
    return Keys(function=settings.get(FUNCTION_KEY_SETTING) or DEFAULT_KEYS.function,
                host=settings.get(HOST_KEY_SETTING) or DEFAULT_KEYS.host,
                master=settings.get(MASTER_KEY_SETTING) or DEFAULT_KEYS.master)


class LocalRunner:
    """Start with ``start()`` (returns once HTTP listens), stop with ``stop()``; also a context manager."""

    def __init__(self, app_module: str = "function_app", settings: dict[str, str] | None = None,
                 host_json: Path = Path("host.json"), port: int = 7071, enable_timers: bool = True,
                 *, host: str = "127.0.0.1", app_attribute: str = "app", drain_timeout: float = 30.0) -> None:
        self.app_module = app_module
        self.app_attribute = app_attribute
        self.host_json = Path(host_json)
        self.host = host
        self.port = port
        self.enable_timers = enable_timers
        self.drain_timeout = drain_timeout
        self.settings = effective_settings(settings, self.host_json.resolve().parent)
        self.settings.setdefault(LOCAL_SIGNIN_SETTING, "true")  # the development sign-in (devtools/runner/signin.py)
        self.options: HostOptions = HostOptions()
        self.keys = keys_from(self.settings)
        self.module: ModuleType | None = None
        self.functions: list[FunctionSpec] = []
        self._saved_env: dict[str, str | None] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._timers: dict[str, TimerScheduler] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ public API

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> LocalRunner:
        """Export settings, index the app, start listeners and the HTTP server; return when listening."""
        self._export_env()
        try:
            self._index()
            self._thread = threading.Thread(target=self._thread_main, name="local-runner", daemon=True)
            self._thread.start()
            if not self._ready.wait(timeout):
                raise RuntimeError(f"local runner did not start within {timeout}s")
            if self._error is not None:
                raise RuntimeError(f"local runner failed to start: {self._error!r}") from self._error
        except BaseException:
            self.stop()
            raise
        log.info("local runner listening on %s (%d functions)", self.base_url, len(self.functions))
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop polling and timers, let in-flight invocations finish, stop HTTP, restore the environment."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._restore_env()

    def trigger_timer(self, function_name: str, timeout: float = 60.0) -> Invocation:
        """Run a timer function now (not past due) and wait for it; raises InvocationFailed if it raised."""
        scheduler = self._timers.get(function_name)
        if scheduler is None:
            raise KeyError(f"no timer function named {function_name!r}")
        if self._loop is None:
            raise RuntimeError("runner is not started")
        return asyncio.run_coroutine_threadsafe(scheduler.fire(), self._loop).result(timeout)

    def __enter__(self) -> LocalRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ indexing

    def _export_env(self) -> None:
        for k, v in self.settings.items():
            self._saved_env.setdefault(k, os.environ.get(k))
            os.environ[k] = v

    def _restore_env(self) -> None:
        for k, old in self._saved_env.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old
        self._saved_env.clear()

    def _index(self) -> None:
        """Import the app fresh (as a new worker does) and read its metadata exactly once."""
        if self.host_json.is_file():
            doc = json.loads(self.host_json.read_text(encoding="utf-8"))
            self.options = parse_host_json(doc, cores=os.cpu_count() or 1)
        sys.modules.pop(self.app_module, None)
        self.module = importlib.import_module(self.app_module)
        app = getattr(self.module, self.app_attribute)
        if not isinstance(app, func.FunctionApp):
            raise TypeError(f"{self.app_module}.{self.app_attribute} is not a func.FunctionApp")
        resolve = dict(os.environ)
        self.functions = [parse_function(str(f.get_function_name()), f.get_function_json(),
                                         f.get_user_function(), resolve) for f in app.get_functions()]
        for spec in self.functions:  # a bad schedule fails indexing, as in the host
            if isinstance(spec.trigger, TimerTrigger):
                Schedule.parse(spec.trigger.schedule)

    # ------------------------------------------------------------------ event loop

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # startup failures are reported by start()
            self._error = self._error or exc
        finally:
            self._ready.set()
            loop.close()

    async def _main(self) -> None:
        self._stop = stop = asyncio.Event()
        threads = self.settings.get("PYTHON_THREADPOOL_THREAD_COUNT")
        fn_executor = ThreadPoolExecutor(int(threads) if threads else None, thread_name_prefix="fn")
        io_executor = ThreadPoolExecutor(16, thread_name_prefix="storage-io")
        directory = str(Path(self.module.__file__ or ".").resolve().parent) if self.module else ""
        clients = StorageClients(self.settings)

        async def io(fn: Any, *args: Any) -> Any:
            return await asyncio.get_running_loop().run_in_executor(io_executor, fn, *args)

        writer = OutputWriter(clients, self.options.queues.message_encoding, io)
        listeners = [QueueListener(s, self.options.queues, clients, writer, io_executor, fn_executor,
                                   directory) for s in self.functions if isinstance(s.trigger, QueueTrigger)]
        clock = for_file(Path(self.settings[CLOCK_SETTING])) if self.settings.get(CLOCK_SETTING) else None
        self._timers = {s.name: TimerScheduler(s, writer.write, fn_executor, directory=directory,
                                               **({"clock": clock.now} if clock else {}))
                        for s in self.functions if isinstance(s.trigger, TimerTrigger)}

        async def run_http(spec: FunctionSpec, request: Any) -> Invocation:
            result = await invoke(spec, request, fn_executor, directory=directory)
            await writer.write(spec, result)
            return result

        async def admin_run(name: str, payload: str) -> bool:
            spec = next((s for s in self.functions if s.name == name), None)
            if spec is None or not isinstance(spec.trigger, TimerTrigger | QueueTrigger):
                return False
            if isinstance(spec.trigger, TimerTrigger):
                job: Any = self._timers[name].fire()
            else:
                job = run_http(spec, FuncQueueMessage(body=payload.encode("utf-8")))
            task = asyncio.create_task(job)
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return True

        def timers() -> dict[str, Any]:
            return {name: t.status() for name, t in self._timers.items()}

        app = build_http_app(self.functions, self.options.route_prefix, self.keys, run_http, admin_run,
                             local_signin=self.settings.get(LOCAL_SIGNIN_SETTING, "").lower() == "true",
                             timers=timers)
        server = uvicorn.Server(uvicorn.Config(app, host=self.host, port=self.port, log_level="warning",
                                               lifespan="off", access_log=False))
        tasks: list[asyncio.Task[Any]] = []
        try:
            for listener in listeners:
                await listener.prepare()
            serving = asyncio.create_task(server.serve())
            while not server.started:
                if serving.done():
                    serving.result()
                    raise RuntimeError(f"HTTP server stopped during startup on port {self.port}")
                await asyncio.sleep(0.01)
            self.port = int(server.servers[0].sockets[0].getsockname()[1])
            tasks = [asyncio.create_task(li.run(stop, self.drain_timeout)) for li in listeners]
            if self.enable_timers:
                tasks += [asyncio.create_task(t.run(stop)) for t in self._timers.values()]
            self._ready.set()
            await stop.wait()
            server.should_exit = True
            await serving
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            stop.set()
            pending = tasks + list(self._background)
            if pending:
                _, late = await asyncio.wait(pending, timeout=self.drain_timeout)
                for t in late:
                    t.cancel()
            fn_executor.shutdown(wait=False, cancel_futures=True)
            io_executor.shutdown(wait=False, cancel_futures=True)
