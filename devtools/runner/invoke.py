"""Calling a user function the way the Python worker does.

Sync functions run in a thread pool (``PYTHON_THREADPOOL_THREAD_COUNT``, default like the worker:
the executor default), async ones on the runner's loop. ``context`` is injected when the function
asks for it; ``func.Out`` parameters collect output-binding values that are written only on success.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
from azure.functions import _abc as azf_abc

from devtools.runner.metadata import FunctionSpec

log = logging.getLogger("devtools.runner")


class OutBinding(func.Out[Any]):
    """The value a function sets on an output-binding parameter."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class _TraceContext(azf_abc.TraceContext):
    def __init__(self) -> None:
        self._parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(azf_abc.RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(func.Context):
    """``func.Context`` for one invocation (what the worker passes as ``context``)."""

    _tls = threading.local

    def __init__(self, function_name: str, invocation_id: str, function_directory: str = "") -> None:
        self._name = function_name
        self._id = invocation_id
        self._dir = function_directory
        self._trace = _TraceContext()
        self._retry = _RetryContext()

    @property
    def invocation_id(self) -> str:
        return self._id

    @property
    def function_name(self) -> str:
        return self._name

    @property
    def function_directory(self) -> str:
        return self._dir

    @property
    def thread_local_storage(self) -> type[threading.local]:
        return self._tls

    @property
    def trace_context(self) -> azf_abc.TraceContext:
        return self._trace

    @property
    def retry_context(self) -> azf_abc.RetryContext:
        return self._retry


@dataclass
class Invocation:
    """The result of one successful call: the return value and every output binding's value."""

    invocation_id: str
    returned: Any
    outputs: dict[str, Any] = field(default_factory=dict)


class InvocationFailed(Exception):
    """The user function raised; the cause is chained and the invocation id kept for the log."""

    def __init__(self, function_name: str, invocation_id: str) -> None:
        super().__init__(f"function {function_name} failed (invocation {invocation_id})")
        self.function_name = function_name
        self.invocation_id = invocation_id


async def invoke(spec: FunctionSpec, trigger_value: Any, executor: Executor | None = None,
                 *, directory: str = "") -> Invocation:
    """Run ``spec.func`` with its trigger value, outputs and context; raise InvocationFailed on error."""
    invocation_id = str(uuid.uuid4())
    kwargs: dict[str, Any] = {spec.trigger.name: trigger_value}
    outs: dict[str, OutBinding] = {}
    for out in spec.queue_outputs:
        if out.name != "$return":
            outs[out.name] = OutBinding()
    kwargs.update(outs)
    if "context" in spec.parameters and "context" not in kwargs:
        kwargs["context"] = InvocationContext(spec.name, invocation_id, directory)
    log.info("Executing '%s' (id=%s)", spec.name, invocation_id)
    try:
        if spec.is_async:
            returned = await spec.func(**kwargs)
        else:
            loop = asyncio.get_running_loop()
            call = functools.partial(contextvars.copy_context().run, spec.func, **kwargs)
            returned = await loop.run_in_executor(executor, call)
    except Exception as exc:
        log.exception("Executed '%s' (Failed, id=%s): %s", spec.name, invocation_id, exc)
        raise InvocationFailed(spec.name, invocation_id) from exc
    log.info("Executed '%s' (Succeeded, id=%s)", spec.name, invocation_id)
    values: Mapping[str, Any] = {name: o.get() for name, o in outs.items()}
    return Invocation(invocation_id=invocation_id, returned=returned, outputs=dict(values))
