"""Queue triggers and queue output bindings against Azure Storage queues (Azurite locally).

The sync storage SDK is used from a small I/O thread pool, apart from the pool that runs sync user
functions, so busy functions never starve polling, deletes or poison moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import typing
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from datetime import timedelta
from typing import Any, TypeVar

import azure.functions as func
from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage as FuncQueueMessage
from azure.storage.queue import QueueClient, QueueMessage, QueueServiceClient

from devtools.runner.invoke import Invocation, InvocationFailed, invoke
from devtools.runner.metadata import FunctionSpec, IndexingError, QueueOptions, QueueTrigger
from devtools.runner.queue_codec import (
    Disposition,
    UndecodableMessage,
    after_failure,
    before_run,
    decode_body,
    encode_body,
    next_poll_delay,
    output_messages,
    poison_queue_name,
)

log = logging.getLogger("devtools.runner")
T = TypeVar("T")
# seconds a running message stays invisible (renewed at half-time), as the host does; a bench that kills the runner
# may shorten it (DEVTOOLS_RUNNER_MESSAGE_LEASE_SECONDS) so redelivery comes within its time budget
HIDE_WHILE_RUNNING = int(os.environ.get("DEVTOOLS_RUNNER_MESSAGE_LEASE_SECONDS", "600"))


class StorageClients:
    """QueueServiceClients per connection setting, resolved like the host does."""

    def __init__(self, settings: Mapping[str, str]) -> None:
        self._settings = settings
        self._services: dict[str, QueueServiceClient] = {}
        self._created: set[tuple[str, str]] = set()

    def service(self, connection: str) -> QueueServiceClient:
        if connection not in self._services:
            self._services[connection] = self._build(connection)
        return self._services[connection]

    def _build(self, connection: str) -> QueueServiceClient:
        for name in (connection, f"AzureWebJobs{connection}"):
            if self._settings.get(name):
                return QueueServiceClient.from_connection_string(self._settings[name])
            uri = self._settings.get(f"{name}__queueServiceUri")
            if uri:
                from azure.identity import DefaultAzureCredential

                return QueueServiceClient(uri, credential=DefaultAzureCredential())
        raise IndexingError(f"storage connection setting {connection!r} is not defined")

    def queue(self, connection: str, name: str) -> QueueClient:
        return self.service(connection).get_queue_client(name)

    def ensure_queue(self, connection: str, name: str) -> QueueClient:
        """The queue client, creating the queue the first time it is used (as the host does)."""
        client = self.queue(connection, name)
        if (connection, name) not in self._created:
            with contextlib.suppress(ResourceExistsError):
                client.create_queue()
            self._created.add((connection, name))
        return client


class OutputWriter:
    """Writes queue output-binding values after a successful invocation."""

    def __init__(self, clients: StorageClients, encoding: str, io: Callable[..., Any]) -> None:
        self._clients = clients
        self._encoding = encoding
        self._io = io

    async def write(self, spec: FunctionSpec, result: Invocation) -> int:
        """Send every output message; returns how many were written."""
        sent = 0
        for out in spec.queue_outputs:
            value = result.returned if out.name == "$return" else result.outputs.get(out.name)
            messages = output_messages(value)
            if not messages:
                continue
            client = await self._io(self._clients.ensure_queue, out.connection, out.queue_name)
            for m in messages:
                await self._io(client.send_message, encode_body(m, self._encoding))
                sent += 1
        return sent


def trigger_value(spec: FunctionSpec, message: func.QueueMessage) -> Any:
    """What the trigger parameter receives: a QueueMessage, or the body as ``str``/``bytes``."""
    try:
        hint = typing.get_type_hints(spec.func).get(spec.trigger.name)
    except Exception:
        hint = None
    if hint is str:
        return message.get_body().decode("utf-8")
    if hint is bytes:
        return message.get_body()
    return message


def to_func_message(msg: QueueMessage, body: bytes) -> func.QueueMessage:
    return FuncQueueMessage(id=msg.id, body=body, dequeue_count=msg.dequeue_count,
                             insertion_time=msg.inserted_on, expiration_time=msg.expires_on,
                             time_next_visible=msg.next_visible_on, pop_receipt=msg.pop_receipt)


class QueueListener:
    """Polls one trigger queue and runs its function with the storage extension's semantics."""

    def __init__(self, spec: FunctionSpec, options: QueueOptions, clients: StorageClients,
                 writer: OutputWriter, io_executor: Executor, fn_executor: Executor | None,
                 directory: str = "") -> None:
        assert isinstance(spec.trigger, QueueTrigger)
        self.spec = spec
        self.trigger: QueueTrigger = spec.trigger
        self.options = options
        self._clients = clients
        self._writer = writer
        self._io_executor = io_executor
        self._fn_executor = fn_executor
        self._directory = directory
        self._inflight: set[asyncio.Task[None]] = set()

    async def _io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._io_executor, lambda: fn(*args, **kwargs))

    async def prepare(self) -> None:
        """Create the trigger queue if missing."""
        await self._io(self._clients.ensure_queue, self.trigger.connection, self.trigger.queue_name)

    async def run(self, stop: asyncio.Event, drain_timeout: float = 30.0) -> None:
        """Poll until ``stop`` is set, then wait for in-flight messages to finish."""
        client = self._clients.queue(self.trigger.connection, self.trigger.queue_name)
        opts = self.options
        delay = timedelta(0)
        while not stop.is_set():
            if len(self._inflight) > opts.new_batch_threshold:
                await _wait_any(self._inflight, stop)
                continue
            try:
                batch = await self._io(lambda: list(client.receive_messages(
                    messages_per_page=opts.batch_size, max_messages=opts.batch_size,
                    visibility_timeout=HIDE_WHILE_RUNNING)))
            except Exception as exc:  # storage unreachable: back off, never die
                log.warning("polling %s failed: %s", self.trigger.queue_name, exc)
                batch = []
            for m in batch:
                task = asyncio.create_task(self._process(client, m))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
            delay = next_poll_delay(delay, bool(batch), opts.max_polling_interval)
            if delay:
                await _sleep(stop, delay.total_seconds())
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=drain_timeout)

    async def _process(self, client: QueueClient, msg: QueueMessage) -> None:
        opts = self.options
        try:
            body = decode_body(str(msg.content), opts.message_encoding)
        except UndecodableMessage as exc:
            log.error("message %s on %s: %s; moving it to poison without running %s",
                      msg.id, self.trigger.queue_name, exc, self.spec.name)
            await self._poison(client, msg)
            return
        if before_run(msg.dequeue_count or 0, opts.max_dequeue_count) is Disposition.POISON:
            await self._poison(client, msg)
            return
        value = trigger_value(self.spec, to_func_message(msg, body))
        renewer = asyncio.create_task(self._keep_hidden(client, msg))
        try:
            result = await invoke(self.spec, value, self._fn_executor, directory=self._directory)
            await self._writer.write(self.spec, result)
            ok = True
        except InvocationFailed:
            ok = False
        except Exception:
            log.exception("output bindings of %s failed for message %s", self.spec.name, msg.id)
            ok = False
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
        try:
            if ok:
                await self._io(client.delete_message, msg.id, msg.pop_receipt)
            elif after_failure(msg.dequeue_count or 0, opts.max_dequeue_count) is Disposition.POISON:
                await self._poison(client, msg)
            else:
                await self._io(client.update_message, msg.id, msg.pop_receipt,
                               visibility_timeout=int(opts.visibility_timeout.total_seconds()))
        except Exception:
            log.exception("could not settle message %s on %s", msg.id, self.trigger.queue_name)

    async def _keep_hidden(self, client: QueueClient, msg: QueueMessage) -> None:
        """Renew the message's invisibility while the function runs; keeps ``msg.pop_receipt`` current."""
        while True:
            await asyncio.sleep(HIDE_WHILE_RUNNING / 2)
            updated = await self._io(client.update_message, msg.id, msg.pop_receipt,
                                     visibility_timeout=HIDE_WHILE_RUNNING)
            msg.pop_receipt = updated.pop_receipt

    async def _poison(self, client: QueueClient, msg: QueueMessage) -> None:
        """Copy the stored body unchanged to ``<queue>-poison``, then delete the original."""
        name = poison_queue_name(self.trigger.queue_name)
        poison = await self._io(self._clients.ensure_queue, self.trigger.connection, name)
        await self._io(poison.send_message, msg.content)
        await self._io(client.delete_message, msg.id, msg.pop_receipt)
        log.warning("message %s moved to %s after %s attempt(s)", msg.id, name, msg.dequeue_count)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _wait_any(tasks: set[asyncio.Task[None]], stop: asyncio.Event) -> None:
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({*tasks, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
