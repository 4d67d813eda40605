"""A sample FunctionApp exercising every binding the local runner supports.

Queue names and schedules come from app settings (``%SAMPLE_QUEUE%`` ...), so each test isolates
itself with fresh names. Every invocation is recorded in ``EVENTS`` for the tests to inspect.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from typing import Any

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
bp = func.Blueprint()

EVENTS: list[dict[str, Any]] = []
_lock = threading.Lock()
_running = {"now": 0, "max": 0}


def record(kind: str, **data: Any) -> None:
    with _lock:
        EVENTS.append({"kind": kind, "at": time.monotonic(), **data})


def events(kind: str) -> list[dict[str, Any]]:
    with _lock:
        return [e for e in EVENTS if e["kind"] == kind]


def max_concurrency() -> int:
    return _running["max"]


# ------------------------------------------------------------------ queues


@app.queue_trigger(arg_name="msg", queue_name="%SAMPLE_QUEUE%", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="%SAMPLE_OUT_QUEUE%", connection="AzureWebJobsStorage")
def work(msg: func.QueueMessage, out: func.Out[str]) -> None:
    """Sync queue function: ``action`` fail raises, sleep tracks concurrency, ok writes ``items``."""
    body = msg.get_json()
    record("work", id=msg.id, dequeue_count=msg.dequeue_count, body=body,
           insertion_time=msg.insertion_time, pop_receipt=msg.pop_receipt)
    if body["action"] == "fail":
        raise RuntimeError("sample failure")
    if body["action"] == "sleep":
        with _lock:
            _running["now"] += 1
            _running["max"] = max(_running["max"], _running["now"])
        time.sleep(body["seconds"])
        with _lock:
            _running["now"] -= 1
    if "items" in body:
        out.set(json.dumps(body["items"]))


@bp.queue_trigger(arg_name="text", queue_name="%SAMPLE_ASYNC_QUEUE%", connection="AzureWebJobsStorage")
@bp.queue_output(arg_name="$return", queue_name="%SAMPLE_OUT_QUEUE%", connection="AzureWebJobsStorage")
async def work_async(text: str, context: func.Context) -> str:
    """Async queue function taking the body as ``str``; its return value goes to the output queue."""
    await asyncio.sleep(0)
    record("work_async", text=text, invocation_id=context.invocation_id, function_name=context.function_name)
    return text.upper()


# ------------------------------------------------------------------ timers


@app.timer_trigger(arg_name="timer", schedule="%SAMPLE_SCHEDULE%")
def tick(timer: func.TimerRequest) -> None:
    record("tick", past_due=timer.past_due, status=timer.schedule_status)
    time.sleep(float(os.environ.get("SAMPLE_TIMER_SLEEP", "0")))


@app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *", run_on_startup=True)
@app.queue_output(arg_name="$return", queue_name="%SAMPLE_OUT_QUEUE%", connection="AzureWebJobsStorage")
async def on_startup(timer: func.TimerRequest) -> str:
    record("on_startup", past_due=timer.past_due)
    return "started"


# ------------------------------------------------------------------ HTTP


@app.route(route="items/{id:int}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def get_item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({
        "method": req.method, "url": req.url, "route": dict(req.route_params), "params": dict(req.params),
        "header": req.headers.get("x-sample"), "kind": "int",
    }), mimetype="application/json")


@app.route(route="items/special", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def get_special(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("special")


@app.route(route="echo/{name?}", methods=["POST", "PUT"])
async def echo(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    """Async, function-level auth: echoes body and route, sets status, headers, mimetype and charset."""
    return func.HttpResponse(
        req.get_body(), status_code=201, headers={"X-Invocation": context.invocation_id,
                                                   "X-Name": req.route_params.get("name", "")},
        mimetype="text/html", charset="latin-1")


@app.route(route="admin-only", auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> str:
    return "admin ok"


@app.route(route="boom", auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("sample HTTP failure")


@app.route(route="enqueue", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@app.queue_output(arg_name="out", queue_name="%SAMPLE_OUT_QUEUE%", connection="AzureWebJobsStorage")
def enqueue(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(req.get_body().decode("utf-8"))
    return func.HttpResponse(status_code=202)


app.register_functions(bp)
