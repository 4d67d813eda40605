"""cspguard rehearse through its CLI entry point: the portfolio of a running stack is copied into a throwaway
stack and advanced day by day with the real sweeps; a scripted payment spares one customer; the source stack
is not touched."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from devtools.polling import wait_until
from devtools.sandbox.inspect import add_customer, subscription_status
from devtools.stack import Stack, StackConfig
from tests.e2e.conftest import EXAMPLE_SETTINGS

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
POLICY = Path(__file__).resolve().parents[1] / "e2e_collections" / "policy-e2e.yaml"


@pytest.fixture(scope="module")
def source() -> Iterator[Stack]:
    """The "real" stack whose portfolio is rehearsed (timers off: nothing moves on its own)."""
    config = StackConfig(free_ports=True, customers=0, settings_file=EXAMPLE_SETTINGS,
                         extra_settings={"CSPGUARD_POLICY_FILE": str(POLICY),
                                         "CSPGUARD_MAX_SUSPENSION_SHARE": "1.0"})
    with Stack(config) as running:
        yield running


def _overdue(stack: Stack, name: str) -> tuple[str, str]:
    created = add_customer(stack, name, [{"kind": "azure_plan", "friendly_name": "Azure plan"}])
    cid, plan = created["id"], created["subscriptions"][0]["id"]
    today = datetime.now().date()
    now = datetime.now().astimezone().isoformat()
    events = [{"type": "customer.updated", "event_id": uuid.uuid4().hex, "customer_id": cid, "occurred_at": now,
               "name": name, "contact_email": f"ap@{cid[:6]}.example", "language": "en"},
              {"type": "invoice.issued", "event_id": uuid.uuid4().hex, "customer_id": cid, "occurred_at": now,
               "invoice_id": f"INV-{cid[:6]}", "amount": "5000.00", "currency": "CNY",
               "issue_date": (today - timedelta(days=55)).isoformat(),
               "due_date": (today - timedelta(days=25)).isoformat()}]
    with stack.http() as api:
        assert api.post("/api/payment-events", json=events).status_code == 202
        wait_until(lambda: api.get(f"/api/customers/{cid}/status").json().get("notices_sent"), what="final notice")
    return cid, plan


def test_rehearsal_suspends_on_the_copy_spares_the_payer_and_touches_nothing_real(
        source: Stack, tmp_path: Path) -> None:
    late, late_plan = _overdue(source, "Late Payer Ltd")
    payer, payer_plan = _overdue(source, "Pays On Day Three Ltd")
    with source.http() as api:
        before = {c: api.get(f"/api/customers/{c}/status").json() for c in (late, payer)}
    pay_day = (datetime.now().astimezone() + timedelta(days=3)).date()
    payments = tmp_path / "payments.csv"
    payments.write_text(f"date,customer_id,amount,currency\n{pay_day},{payer},5000.00,CNY\n", encoding="utf-8")

    result = CliRunner().invoke(app, ["rehearse", "--days", "8", "--payments", str(payments), "--json"],
                                env=source.settings)
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["customers"] == 2 and report["subscriptions"] == 2
    suspended = {c: d["day"] for d in report["days"] for c in d["suspended"]}
    assert late in suspended and payer not in suspended
    day = next(d for d in report["days"] if late in d["suspended"])
    assert date.fromisoformat(day["day"]) - date.fromisoformat(report["days"][0]["day"]) >= timedelta(days=5)
    assert day["overdue_suspended"] == {"CNY": "5000.00"}
    assert any(f"{payer} 5000.00 CNY" in d["payments"] for d in report["days"])

    # the source: same subscriptions, same collections state, real time
    assert subscription_status(source, late)[late_plan] == "active"
    assert subscription_status(source, payer)[payer_plan] == "active"
    with source.http() as api:
        after = {c: api.get(f"/api/customers/{c}/status").json() for c in (late, payer)}
        assert api.get("/api/clock").json()["real_time"] is True
    for c in (late, payer):
        assert after[c]["invoices"] == before[c]["invoices"] and after[c]["case"] == before[c]["case"]
        assert after[c]["notices_sent"] == before[c]["notices_sent"]
