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


def _overdue(stack: Stack, days: int) -> str:
    from datetime import date

    from devtools.sandbox.inspect import add_customer

    cid = add_customer(stack, "Forecast Me Ltd", [{"kind": "azure_plan", "friendly_name": "Azure plan"}])["id"]
    with stack.http() as api:
        today = date.fromisoformat(api.get("/api/clock").json()["now"][:10])
        now = api.get("/api/clock").json()["now"]
        events = [{"type": "customer.updated", "event_id": f"u-{cid}", "customer_id": cid, "occurred_at": now,
                   "name": "Forecast Me Ltd", "contact_email": "ap@forecast.example"},
                  {"type": "invoice.issued", "event_id": f"i-{cid}", "customer_id": cid, "occurred_at": now,
                   "invoice_id": "INV-F", "amount": "9000.00", "currency": "CNY",
                   "issue_date": (today - timedelta(days=days + 30)).isoformat(),
                   "due_date": (today - timedelta(days=days)).isoformat()}]
        assert api.post("/api/payment-events", json=events).status_code == 202
        wait_until(lambda: api.get(f"/api/customers/{cid}/status").json().get("notices_sent") or None,
                   "the final notice")
    return cid


def test_forecast_and_preview_at_a_date_through_the_cli_and_http(timed_stack: Stack) -> None:
    import json

    from typer.testing import CliRunner

    from cli.main import app

    stack = timed_stack
    cid = _overdue(stack, 25)
    runner = CliRunner()
    table = runner.invoke(app, ["forecast", "--days", "10"], env=stack.settings)
    assert table.exit_code == 0, table.output
    assert "forecast: 10 sweeps" in table.output and "assumes:" in table.output
    as_json = json.loads(runner.invoke(app, ["forecast", "--days", "10", "--json"], env=stack.settings).stdout)
    assert len(as_json["days"]) == 10 and as_json["assumptions"]
    assert any(cid in [i["customer_id"] for i in d["notices"].get("final_notice", ())] or
               cid in [i["customer_id"] for i in d["suspended"] + d["refused"]] for d in as_json["days"])
    csv_out = runner.invoke(app, ["forecast", "--days", "10", "--csv"], env=stack.settings).stdout
    assert csv_out.startswith("date,at,what,customer_id,name,stage,overdue,reasons,halted\n")
    with stack.http() as api:
        assert api.get("/api/collections/forecast", params={"days": "0"}).status_code == 400
        r = api.get("/api/collections/forecast", params={"days": "3", "format": "csv"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        day = as_json["days"][3]["date"]
        preview = api.get("/api/collections/preview", params={"at": day}).json()
    # a date means that day's sweep at the sweep's own time (01:00 UTC = 09:00 Beijing), not 18:00
    assert preview["at"] == f"{day}T01:00:00+00:00"
    assert {"payment_feed", "would_suspend", "blast_radius_halts", "refused_by_guards"} <= set(preview["guards"])
