"""The team hears before a suspension can no longer be undone: data-deletion date, term end of a suspended
subscription, end of a cancelled Azure subscription's reactivation period. Against Azurite, the Partner Center
sandbox (status and term end read live) and the SMTP mailbox; through the service and the CLI."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from devtools.azurite import Azurite
from devtools.sandbox.inspect import add_customer
from shared.context import AppContext
from shared.services.deadlines import check_suspension_deadlines
from shared.services.state import SuspensionRecord
from shared.settings import load_settings
from tests.e2e_collections.conftest import CollectionsStack, services_world

pytestmark = pytest.mark.integration
TEAM = "collections@partner.example"


@pytest.fixture(scope="module")
def world(azurite: Azurite) -> Iterator[tuple[CollectionsStack, dict[str, str]]]:
    yield from services_world(azurite, seed=3, customers=1)


def _record(ctx: AppContext, cid: str, sub: str, at: datetime, entitlement: str | None = None,
            name: str = "") -> None:
    rec = SuspensionRecord(customer_id=cid, subscription_id=sub, reason="nonpayment", detail="stage suspend_all",
                           action_key=f"k-{uuid.uuid4().hex[:6]}", suspended_at=at, suspended_by="csp-guard:sweep",
                           case_id="COL-1", name=name, entitlement_id=entitlement)
    ctx.stores.suspensions.upsert(cid, sub if entitlement is None else f"{sub}.{entitlement}", rec)


def _alerts(stack: CollectionsStack, cid: str) -> list[Any]:
    return [m for m in stack.mailbox.messages() if TEAM in str(m["To"]) and cid in m.get_body(("plain",)).get_content()
            and str(m["Subject"]).startswith("Suspended ")]


async def test_data_deletion_and_azure_reactivation_alerts_once(world: tuple[CollectionsStack, dict[str, str]]) -> None:
    stack, values = world
    ctx = AppContext(load_settings(**values))
    created = add_customer(stack, "Deadline Data Ltd", [
        {"kind": "license", "status": "suspended", "friendly_name": "Office 365 E3"},
        {"kind": "license", "status": "active", "friendly_name": "Reactivated by hand"},
        {"kind": "azure_plan", "entitlements": ["disabled"]}])
    cid = created["id"]
    lic, manual, plan = (s["id"] for s in created["subscriptions"])
    ent = str(uuid.uuid4())  # an Azure subscription under the plan, as csp-guard's record names it
    now = datetime.now(UTC)
    _record(ctx, cid, lic, now - timedelta(days=55), name="Office 365 E3")  # data may go in 5 days
    _record(ctx, cid, manual, now - timedelta(days=58))  # active again in Partner Center: nothing to warn about
    _record(ctx, cid, plan, now - timedelta(days=26), entitlement=ent)  # 30-day reactivation limit in 4 days

    preview = await check_suspension_deadlines(ctx, now=now, send=False)
    mine = sorted((d["subscription_id"], d["kind"], d["days_left"], d["status"]) for d in preview.due
                  if d["customer_id"] == cid)
    assert mine == sorted([(lic, "data_deletion", 5, "suspended"), (plan, "azure_reactivation", 4, "active")])
    assert preview.alerted == 0 and _alerts(stack, cid) == []

    sent = await check_suspension_deadlines(ctx, now=now)
    assert sent.alerted >= 2  # (other tests' customers share this storage)
    mails = _alerts(stack, cid)
    subjects = sorted(str(m["Subject"]) for m in mails)
    assert len(mails) == 2
    assert any("Office 365 E3" in s and "data may be deleted from" in s for s in subjects)
    assert any("cancelled Azure subscription can be reactivated only until" in s for s in subjects)
    body = next(m for m in mails if "Office 365 E3" in str(m["Subject"])).get_body(("plain",)).get_content()
    assert "the policy counts 60 days after suspension" in body and "Partner Center status now: suspended" in body
    again = await check_suspension_deadlines(ctx, now=now + timedelta(hours=1))
    assert len(_alerts(stack, cid)) == 2 and any(d["customer_id"] == cid for d in again.due)  # still due, told once
    audit = [e for e in ctx.audit.history(cid) if e.action == "deadline.alert"]
    assert len(audit) == 2 and {e.outcome for e in audit} == {"sent"}


async def test_term_end_of_a_suspended_subscription_is_announced(
        world: tuple[CollectionsStack, dict[str, str]]) -> None:
    stack, values = world
    ctx = AppContext(load_settings(**values))
    created = add_customer(stack, "Deadline Term Ltd", [{"kind": "license", "status": "suspended",
                                                         "friendly_name": "Term Licence"}])
    cid, lic = created["id"], created["subscriptions"][0]["id"]
    sub = next(s for s in await ctx.partner_center().list_subscriptions(cid) if s.id == lic)
    assert sub.commitment_end_date is not None and sub.term_duration == "P1Y"
    end = sub.commitment_end_date
    now = end - timedelta(days=3)
    _record(ctx, cid, lic, now - timedelta(days=10), name="Term Licence")
    report = await check_suspension_deadlines(ctx, now=now)
    assert [(d["kind"], d["days_left"], d["on"]) for d in report.due if d["customer_id"] == cid] == [
        ("term_end", 3, end.date().isoformat())]
    mail = _alerts(stack, cid)
    assert len(mail) == 1 and "term ends" in str(mail[0]["Subject"])


def test_cli_lists_what_is_due_today(world: tuple[CollectionsStack, dict[str, str]],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The first test's customer is due today (real clock); listing sends nothing."""
    stack, values = world
    before = len(stack.mailbox.messages())
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    from cli.main import app
    from shared.context import reset_context

    reset_context()
    result = CliRunner().invoke(app, ["suspension-deadlines", "--json"])
    reset_context()
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert listed["alerted"] == 0 and len(stack.mailbox.messages()) == before
    assert {"data_deletion", "azure_reactivation"} <= {d["kind"] for d in listed["due"]}
    table = CliRunner().invoke(app, ["suspension-deadlines"])
    assert table.exit_code == 0 and "deadline(s) among" in table.output
