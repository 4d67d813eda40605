"""The default 21Vianet channel end to end through the runner's HTTP API and the CLI: a contained GPU spike
produces an evidence pack (zh-CN and English, paste-ready and as a file) once Partner Center's outcome is known;
the operator records the ticket 21Vianet opened and later its status, both on the case and in the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from devtools.azurite import Azurite
from shared.storage.audit import AuditLog
from shared.storage.azure import AzureTables
from tests.e2e_collections.conftest import CollectionsStack, entitlement_status, subscription_status, wait_until
from tests.e2e_fraud.conftest import (
    SUPPORT,
    azure_subscriptions,
    customer_with_history,
    inject_gpu_spike,
    run_scan,
    start_stack,
    stop_stack,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def portal_stack(azurite: Azurite) -> Iterator[CollectionsStack]:
    stack = start_stack(azurite, "rules-contain.yaml", CSPGUARD_SERVICE_REQUEST_CHANNEL="portal")
    try:
        yield stack
    finally:
        stop_stack(stack)


def _case(stack: CollectionsStack, cid: str) -> dict[str, Any]:
    with stack.api() as api:
        return api.get(f"/fraud/cases/{cid}").json()  # type: ignore[no-any-return]


def test_pack_is_ready_to_file_and_the_ticket_is_tracked(portal_stack: CollectionsStack, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    stack = portal_stack
    cid, plan = customer_with_history(stack, "Portal Pack Ltd")
    running = azure_subscriptions(stack, cid, plan)[0]
    inject_gpu_spike(stack, cid, plan, entitlement_id=running)
    assert run_scan(stack)["containments"] == 1
    # containment disables exactly the Azure subscription that spiked; its plan (and the licence) stay active
    wait_until(lambda: entitlement_status(stack, cid)[running] == "disabled", what="Azure subscription disabled")
    case = wait_until(lambda: (lambda c: c if (c["service_request"] or {}).get("status") == "ready" else None)(
        _case(stack, cid)), what="service request ready")
    sr = case["service_request"]
    assert subscription_status(stack, cid)[plan] == "active"
    assert sr["channel"] == "portal" and sr["pack_containment"] == "contained" and sr["ticket_number"] is None
    # the team got the paste-ready pack and the portal steps; nothing went to a 21Vianet mailbox
    team = [m for m in stack.mailbox.messages() if "File with 21Vianet" in str(m["Subject"])]
    assert len(team) == 1 and "Portal Pack Ltd" in str(team[0]["Subject"])
    assert not [m for m in stack.mailbox.messages() if SUPPORT in str(m["To"])]

    with stack.api() as api:
        r = api.get(f"/fraud/cases/{cid}/evidence")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        name = f'csp-guard-evidence-{case["case"]["case_id"]}.txt'
        assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
        assert r.headers["x-cspguard-containment"] == "contained"
        text = r.text
        assert text.index("世纪互联技术支持团队") < text.index("Hello 21Vianet support")  # zh-CN first, then English
        assert "Portal Pack Ltd" in text and plan in text and cid in text and "risky-meter.contain" in text
        assert f"Azure subscription {running} (under Azure plan {plan}): disabled (cancelled)" in text
        assert "verified by reading Partner Center back" in text
        assert "raised on containment" not in text  # csp-guard's own marker is no note for 21Vianet
        doc = api.get(f"/fraud/cases/{cid}/evidence", params={"format": "json"}).json()
        assert doc["containment_known"] is True and doc["pack"]["containment"]["contained"] == [f"{plan}/{running}"]
        assert set(doc["text"]) == {"zh-CN", "en"} and doc["title"]["zh-CN"].startswith("可疑活动报告")
        assert any("Customer requests -> New request" in s for s in doc["portal_steps"])
        en = api.get(f"/fraud/cases/{cid}/evidence", params={"lang": "en"}).text
        assert "世纪互联技术支持团队" not in en and "Hello 21Vianet support" in en
        assert api.get(f"/fraud/cases/{cid}/evidence", params={"format": "pdf"}).status_code == 400
        assert api.get("/fraud/cases/no-such-customer/evidence").status_code == 400  # not a tenant id
        assert api.get("/fraud/cases/00000000-0000-0000-0000-00000000dead/evidence").status_code == 404

        # the operator filed it in the portal: the ticket number goes on the case, with who recorded it
        assert api.post(f"/fraud/cases/{cid}/service-request/ticket", json={"number": "SR-1"},
                        headers={"x-actor": ""}).status_code == 401  # no signed-in operator
        assert api.post(f"/fraud/cases/{cid}/service-request/ticket", json={}).status_code == 400
        assert api.post(f"/fraud/cases/{cid}/service-request/ticket",
                        json={"number": "two words"}).status_code == 400
        assert api.post(f"/fraud/cases/{cid}/service-request/status", json={"status": "closed"}).status_code == 409
        r = api.post(f"/fraud/cases/{cid}/service-request/ticket", json={"number": "2612010000123", "note": "P1"})
        assert r.status_code == 200, r.text
        assert r.json()["ticket_number"] == "2612010000123" and r.json()["status"] == "filed"
        assert api.post(f"/fraud/cases/{cid}/service-request/status",
                        json={"status": "resolved"}).status_code == 409
        r = api.post(f"/fraud/cases/{cid}/service-request/status", json={"status": "attention_needed",
                                                                        "note": "21Vianet asks for invoices"})
        assert r.status_code == 200 and r.json()["ticket_status"] == "attention_needed"
    shown = _case(stack, cid)["service_request"]
    assert shown["ticket_number"] == "2612010000123" and shown["ticket_status"] == "attention_needed"
    assert shown["ticket_recorded_by"] == "operator:ops@partner.example"
    assert [u["status"] for u in shown["updates"]][-2:] == ["filed", "attention_needed"]

    # the same through the CLI: the pack as an attachment-ready file, then the ticket closed
    for k, v in stack.settings.items():
        monkeypatch.setenv(k, v)
    from cli.main import app
    from shared.context import reset_context

    reset_context()
    out = tmp_path / "pack.txt"
    runner = CliRunner()
    result = runner.invoke(app, ["fraud", "evidence", case["case"]["case_id"], "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "世纪互联技术支持团队" in out.read_text(encoding="utf-8") and plan in out.read_text(encoding="utf-8")
    as_json = tmp_path / "pack.json"
    assert runner.invoke(app, ["fraud", "evidence", cid, "--format", "json", "--out", str(as_json)]).exit_code == 0
    assert json.loads(as_json.read_text(encoding="utf-8"))["case_id"] == case["case"]["case_id"]
    result = runner.invoke(app, ["fraud", "ticket-status", case["case"]["case_id"], "closed", "--actor", "lead",
                                 "--note", "usage credited"])
    assert result.exit_code == 0 and "closed" in result.output, result.output
    bad = runner.invoke(app, ["fraud", "ticket", cid, "has space", "--actor", "lead"])
    assert bad.exit_code == 1
    reset_context()
    assert _case(stack, cid)["service_request"]["status"] == "closed"
    audit = AuditLog(AzureTables.from_connection_string(stack.azurite.connection_string)).history(cid)
    mine = [(e.action, e.actor) for e in audit if e.action.startswith("fraud.service_request.")]
    assert mine[:3] == [("fraud.service_request.status", "operator:lead"),
                        ("fraud.service_request.status", "operator:ops@partner.example"),
                        ("fraud.service_request.ticket", "operator:ops@partner.example")]


def test_sweep_timer_warns_the_team_before_a_suspended_subscriptions_data_may_go(
        portal_stack: CollectionsStack) -> None:
    """The daily sweep timer runs the deadline check: one alert per deadline, not one per run."""
    from datetime import UTC, datetime, timedelta

    from devtools.sandbox.inspect import add_customer
    from shared.services.state import Stores, SuspensionRecord

    stack = portal_stack
    created = add_customer(stack, "Long Suspended Ltd", [{"kind": "license", "status": "suspended",
                                                          "friendly_name": "Office 365 E3"}])
    cid, lic = created["id"], created["subscriptions"][0]["id"]
    stores = Stores(AzureTables.from_connection_string(stack.azurite.connection_string))
    stores.suspensions.upsert(cid, lic, SuspensionRecord(
        customer_id=cid, subscription_id=lic, reason="nonpayment", detail="stage suspend_all", action_key="k-e2e",
        suspended_at=datetime.now(UTC) - timedelta(days=56), suspended_by="csp-guard:sweep", name="Office 365 E3"))

    def alerts() -> list[Any]:
        return [m for m in stack.mailbox.messages()
                if "data may be deleted from" in str(m["Subject"]) and "Long Suspended Ltd" not in str(m["To"])
                and cid in m.get_body(("plain",)).get_content()]

    stack.runner.trigger_timer("collections_sweep")
    mail = wait_until(alerts, what="deadline alert")
    assert len(mail) == 1 and "Office 365 E3" in str(mail[0]["Subject"])
    assert "If it is not reactivated by" in mail[0].get_body(("plain",)).get_content()
    stack.runner.trigger_timer("collections_sweep")
    with stack.api() as api:
        listed = api.get("/collections/suspension-deadlines").json()
    assert [d["kind"] for d in listed["due"] if d["customer_id"] == cid] == ["data_deletion"]
    assert len(alerts()) == 1
