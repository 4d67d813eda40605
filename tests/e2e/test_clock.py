"""The local time machine through its public entry points: POST /api/clock moves the app, the runner's
timers (one past-due run per schedule skipped) and the sandbox's usage day together; forward only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from devtools.runner import DEFAULT_KEYS
from devtools.stack import Stack, StackConfig
from tests.e2e.conftest import EXAMPLE_SETTINGS, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def timed_stack() -> Iterator[Stack]:
    """Timers on (as in make run), on the shipped schedules: the sweep daily at 01:00 UTC, the fraud scan
    hourly at :15."""
    config = StackConfig(free_ports=True, customers=3, settings_file=EXAMPLE_SETTINGS, enable_timers=True)
    with Stack(config) as running:
        yield running


def timers(stack: Stack) -> dict[str, Any]:
    r = httpx.get(f"{stack.app_url}/admin/timers", headers={"x-functions-key": DEFAULT_KEYS.master}, timeout=30)
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


def test_moving_the_clock_fires_each_skipped_schedule_once_past_due(timed_stack: Stack) -> None:
    stack = timed_stack
    with stack.http() as api:
        shown = api.get("/api/clock").json()
        assert shown["real_time"] is True and shown["movable"] is True
        before = timers(stack)
        assert stack.clock_line() is None
        moved = api.post("/api/clock", json={"advance": "2d"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["offset"] == "+2d"
        assert "moved +2d" in (stack.clock_line() or "") and "clock" in stack.banner()
        after = wait_until(lambda: (lambda t: t if all(t[n]["runs"] > before[n]["runs"] and not t[n]["running"]
                                                       for n in t) else None)(timers(stack)),
                           "every timer to run once after the jump", timeout=60)
        for name in after:
            assert after[name]["runs"] == before[name]["runs"] + 1, name  # coalesced: once, not 2 days' worth
            assert after[name]["last_past_due"] is True, name
        now = datetime.fromisoformat(api.get("/api/clock").json()["now"])
        assert now - datetime.fromisoformat(shown["now"]) >= timedelta(days=2)

        back = api.post("/api/clock", json={"set": shown["now"]})
        assert back.status_code == 400 and "only moves forward" in back.json()["error"]
        assert api.post("/api/clock", json={"advance": "soon"}).status_code == 400
        assert api.post("/api/clock", json={"advance": "1d", "set": shown["now"]}).status_code == 400


def test_the_sandbox_usage_window_follows_the_clock(timed_stack: Stack) -> None:
    stack = timed_stack
    sandbox = stack.sandbox
    assert sandbox is not None
    start, days = sandbox.state.portfolio.start, sandbox.state.portfolio.days
    with stack.http() as api:
        assert api.post("/api/clock", json={"advance": "3d"}).status_code == 200
        today = datetime.fromisoformat(api.get("/api/clock").json()["now"]).date()
    sandbox.state.usage_page(None, 1)  # what GET /v1/invoices/unbilled/lineitems serves
    assert sandbox.state.portfolio.start == start
    assert sandbox.state.portfolio.days == (today - start).days >= days + 3
