"""Timer triggers through the runner: %SETTING% schedules, past_due, run_on_startup, trigger_timer."""

from __future__ import annotations

import base64

import pytest

from devtools.runner import IndexingError, InvocationFailed
from tests.runner.conftest import wait_for

pytestmark = pytest.mark.integration


def test_schedule_from_setting_fires_and_busy_run_is_past_due(make_runner) -> None:
    h = make_runner(enable_timers=True, extra={"SAMPLE_SCHEDULE": "* * * * * *", "SAMPLE_TIMER_SLEEP": "1.5"})
    ticks = wait_for(lambda: (lambda t: t if len(t) >= 2 else None)(h.app.events("tick")), timeout=15)
    assert ticks[0]["past_due"] is False  # on time
    assert ticks[1]["past_due"] is True  # its occurrence came due while the first run was still busy
    assert set(ticks[0]["status"]) == {"Last", "Next", "LastUpdated"}


def test_run_on_startup_fires_once_with_outputs(make_runner) -> None:
    h = make_runner(enable_timers=True)
    wait_for(lambda: h.app.events("on_startup"))
    assert h.app.events("on_startup")[0]["past_due"] is False
    out = wait_for(lambda: h.peek(h.names["SAMPLE_OUT_QUEUE"]))
    assert [base64.b64decode(o).decode() for o in out] == ["started"]
    assert h.app.events("tick") == []  # yearly schedule: not due


def test_trigger_timer_runs_now_when_timers_are_disabled(make_runner) -> None:
    h = make_runner(enable_timers=False)
    assert h.app.events("on_startup") == []
    result = h.runner.trigger_timer("tick")
    assert result.invocation_id
    assert [e["past_due"] for e in h.app.events("tick")] == [False]
    with pytest.raises(KeyError):
        h.runner.trigger_timer("get_item")


def test_trigger_timer_reports_a_raising_function(make_runner) -> None:
    h = make_runner(extra={"SAMPLE_TIMER_SLEEP": "not-a-number"})
    with pytest.raises(InvocationFailed):
        h.runner.trigger_timer("tick")
    assert h.runner.trigger_timer("on_startup").returned == "started"


def test_invalid_schedule_from_setting_fails_indexing(make_runner) -> None:
    with pytest.raises(IndexingError, match="NCRONTAB"):
        make_runner(extra={"SAMPLE_SCHEDULE": "0 */5 * * *"})  # five fields: not NCRONTAB
