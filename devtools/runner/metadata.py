"""What the host knows about the app: function metadata, host.json options and app settings.

Pure parsing only. The runner is driven by exactly what the Functions host receives
(``get_function_json()`` + ``get_user_function()``), so a binding the real host would reject is
rejected here too, loudly instead of silently.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_CONNECTION = "AzureWebJobsStorage"
_EXPRESSION = re.compile(r"%([^%]+)%")


class IndexingError(ValueError):
    """The app would not index in production (bad binding, unknown trigger, missing setting)."""


# --------------------------------------------------------------------------- settings


def resolve_expression(value: str, settings: Mapping[str, str]) -> str:
    """Replace ``%NAME%`` app-setting expressions, as the host does for schedules and queue names."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in settings:
            raise IndexingError(f"app setting {name!r} referenced by {value!r} is not defined")
        return settings[name]

    return _EXPRESSION.sub(sub, value)


def load_local_settings(directory: Path) -> dict[str, str]:
    """``Values`` of ``local.settings.json``, falling back to ``local.settings.example.json``."""
    for name in ("local.settings.json", "local.settings.example.json"):
        path = directory / name
        if path.is_file():
            return read_settings_file(path)
    return {}


def read_settings_file(path: Path) -> dict[str, str]:
    """The ``Values`` object of one local settings file, every value as a string."""
    data = json.loads(path.read_text(encoding="utf-8"))
    values = data.get("Values", {}) if isinstance(data, dict) else {}
    return {str(k): "" if v is None else str(v) for k, v in values.items()}


# --------------------------------------------------------------------------- host.json


def parse_timespan(value: str | int | float) -> timedelta:
    """host.json TimeSpan (``hh:mm:ss[.fff]`` or ``d.hh:mm:ss``) or a number of seconds."""
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    m = re.fullmatch(r"(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)", value.strip())
    if not m:
        raise ValueError(f"not a TimeSpan: {value!r}")
    days, hours, minutes, seconds = m.groups()
    return timedelta(days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=float(seconds))


class QueueOptions(BaseModel):
    """host.json ``extensions.queues`` with the storage extension 5.x defaults."""

    model_config = ConfigDict(frozen=True)

    batch_size: int = Field(default=16, ge=1, le=32)
    new_batch_threshold: int = Field(default=8, ge=0)
    max_polling_interval: timedelta = timedelta(seconds=2)  # the local default; 1 min in Azure
    visibility_timeout: timedelta = timedelta(0)
    max_dequeue_count: int = Field(default=5, ge=1)
    message_encoding: Literal["base64", "none"] = "base64"


class HostOptions(BaseModel):
    """The parts of host.json that change how triggers behave."""

    model_config = ConfigDict(frozen=True)

    queues: QueueOptions = QueueOptions()
    route_prefix: str = "api"


def parse_host_json(data: Mapping[str, Any], cores: int = 1) -> HostOptions:
    """Read ``extensions.queues`` and ``extensions.http.routePrefix`` from a host.json document."""
    ext = data.get("extensions", {}) or {}
    q = ext.get("queues", {}) or {}
    batch = int(q.get("batchSize", 16))
    opts: dict[str, Any] = {"batch_size": batch, "new_batch_threshold": int(
        q.get("newBatchThreshold", (batch // 2) * cores))}
    if "maxPollingInterval" in q:
        opts["max_polling_interval"] = parse_timespan(q["maxPollingInterval"])
    if "visibilityTimeout" in q:
        opts["visibility_timeout"] = parse_timespan(q["visibilityTimeout"])
    if "maxDequeueCount" in q:
        opts["max_dequeue_count"] = int(q["maxDequeueCount"])
    if "messageEncoding" in q:
        opts["message_encoding"] = str(q["messageEncoding"]).lower()
    prefix = (ext.get("http", {}) or {}).get("routePrefix", "api")
    return HostOptions(queues=QueueOptions(**opts), route_prefix=str(prefix).strip("/"))


# --------------------------------------------------------------------------- functions


class QueueTrigger(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: Literal["queue"] = "queue"
    name: str
    queue_name: str
    connection: str = DEFAULT_CONNECTION


class TimerTrigger(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: Literal["timer"] = "timer"
    name: str
    schedule: str
    run_on_startup: bool = False


class HttpTrigger(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: Literal["http"] = "http"
    name: str
    route: str
    methods: tuple[str, ...] = ()  # empty: every method
    auth_level: Literal["anonymous", "function", "admin"] = "function"


Trigger = QueueTrigger | TimerTrigger | HttpTrigger


class QueueOutput(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str  # a parameter name, or "$return"
    queue_name: str
    connection: str = DEFAULT_CONNECTION


class FunctionSpec(BaseModel):
    """One indexed function: its trigger, its queue outputs, and the Python callable."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    trigger: Trigger
    queue_outputs: tuple[QueueOutput, ...] = ()
    http_return: bool = False
    func: Callable[..., Any]
    parameters: tuple[str, ...]
    is_async: bool


def _lower_dir(binding: Mapping[str, Any]) -> str:
    return str(binding.get("direction", "")).lower()


def parse_function(name: str, function_json: str | Mapping[str, Any], func: Callable[..., Any],
                   settings: Mapping[str, str]) -> FunctionSpec:
    """Turn one function's host metadata into a FunctionSpec, resolving ``%SETTING%`` names."""
    doc = json.loads(function_json) if isinstance(function_json, str) else function_json
    params = tuple(inspect.signature(func).parameters)
    trigger: Trigger | None = None
    outputs: list[QueueOutput] = []
    http_return = False
    for b in doc.get("bindings", []):
        btype, bname = str(b.get("type", "")), str(b.get("name", ""))
        if bname != "$return" and bname not in params:
            raise IndexingError(f"function {name}: binding {bname!r} ({btype}) matches no parameter of "
                                f"{func.__qualname__}{inspect.signature(func)}")
        conn = str(b.get("connection") or DEFAULT_CONNECTION)
        if btype.endswith("Trigger"):
            if trigger is not None:
                raise IndexingError(f"function {name} has more than one trigger")
            if btype == "queueTrigger":
                trigger = QueueTrigger(name=bname, queue_name=resolve_expression(b["queueName"], settings),
                                       connection=conn)
            elif btype == "timerTrigger":
                trigger = TimerTrigger(name=bname, schedule=resolve_expression(b["schedule"], settings),
                                       run_on_startup=bool(b.get("runOnStartup", False)))
            elif btype == "httpTrigger":
                route = b.get("route") or name
                methods = tuple(str(m).upper() for m in (b.get("methods") or ()))
                level = str(b.get("authLevel") or "function").lower()
                trigger = HttpTrigger(name=bname, route=route.strip("/"), methods=methods,
                                      auth_level=level)  # type: ignore[arg-type]
            else:
                raise IndexingError(f"function {name}: trigger type {btype!r} is not supported locally")
        elif btype == "queue" and _lower_dir(b) == "out":
            outputs.append(QueueOutput(name=bname, queue_name=resolve_expression(b["queueName"], settings),
                                       connection=conn))
        elif btype == "http" and _lower_dir(b) == "out":
            http_return = True
        else:
            raise IndexingError(f"function {name}: binding type {btype!r} is not supported locally")
    if trigger is None:
        raise IndexingError(f"function {name} has no trigger")
    return FunctionSpec(name=name, trigger=trigger, queue_outputs=tuple(outputs), http_return=http_return,
                        func=func, parameters=params, is_async=inspect.iscoroutinefunction(func))
