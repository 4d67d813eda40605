"""Issue 11 through the scan (Azurite, the HTTPS sandbox, SMTP): a new tenant unknown to the CRM, Azure
subscriptions bursting under a plan, explanations in zh-CN, creation dates, suppression after a legitimate
resolution within the look-back window, the declared baseline on the operator path, exposure that ages out,
and the alarm when the usage feed stops."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from devtools.azurite import Azurite
from devtools.mailbox import Mailbox
from devtools.sandbox import Sandbox, SandboxConfig
from devtools.sandbox.inspect import add_customer
from shared.clock import utcnow
from shared.context import AppContext
from shared.domain import Money
from shared.fraud import Detector
from shared.messaging import Queue
from shared.services.fraud import FraudScanItem, assess_shard, resolve_case, start_scan, stream
from shared.services.fraud.baseline import declare_baseline
from shared.services.fraud.feed import alarm_if_stalled, feed_report, record_feed
from shared.services.fraud.profiles import profile_for
from shared.services.fraud.scan import load_rules
from shared.services.payments import record_event
from shared.services.state import UnbilledExposure
from shared.settings import load_settings
from tests.e2e_collections.conftest import CollectionsStack, stack_settings
from tests.integration.test_fraud_services import _drain

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
GPU = {"meterCategory": "Virtual Machines", "meterSubCategory": "NCv3 Series", "meterName": "NC6s v3"}


@pytest.fixture(scope="module")
def world(azurite: Azurite) -> Iterator[tuple[CollectionsStack, dict[str, str]]]:
    sandbox = Sandbox(SandboxConfig(seed=11, customers=4, misuse_share=0, lookalike_share=0)).start()
    mailbox = Mailbox(port=0).start()
    values = stack_settings(azurite, sandbox, mailbox, CSPGUARD_FRAUD_RULES_FILE=str(ROOT / "config/fraud-rules.yaml"),
                            CSPGUARD_FRAUD_LANGUAGE="zh-CN")
    try:
        yield CollectionsStack(None, sandbox, mailbox, azurite, values), values  # type: ignore[arg-type]
    finally:
        mailbox.stop()
        sandbox.stop()


def _entitlement(stack: CollectionsStack, customer_id: str) -> str:
    with stack.sandbox_admin() as admin:
        state = admin.get("/_sandbox/state", params={"customer": customer_id}).json()
    return str(state["customers"][0]["subscriptions"][0]["entitlements"][0]["id"])


def _usage(stack: CollectionsStack, items: list[dict[str, Any]]) -> None:
    with stack.sandbox_admin() as admin:
        admin.post("/_sandbox/usage", json=items).raise_for_status()


def _item(cid: str, plan: str, ent: str, days_ago: int, amount: float, meter: dict[str, str],
          **kw: Any) -> dict[str, Any]:
    day = (date.today() - timedelta(days=days_ago)).isoformat()
    return {"customerId": cid, "subscriptionId": plan, "entitlementId": ent, "usageDate": f"{day}T00:00:00Z",
            "resourceLocation": "chinanorth2", "quantity": 10, "unitPrice": amount / 10,
            "meterId": f"{meter['meterName']}-{ent}", **meter, **kw}


async def _scan(ctx: AppContext, conn: str) -> None:
    _drain(conn, Queue.FRAUD_SCAN)
    start_scan(ctx, "test")
    item = FraudScanItem.model_validate(_drain(conn, Queue.FRAUD_SCAN)[0]["payload"])
    run = await stream(ctx, item)
    for e in _drain(conn, Queue.FRAUD_SCAN):
        run = await assess_shard(ctx, FraudScanItem.model_validate(e["payload"]))
    assert run.status == "completed", run


async def test_the_scan_sees_first_days_azure_subscriptions_and_declarations(
        world: tuple[CollectionsStack, dict[str, str]]) -> None:
    stack, values = world
    ctx = AppContext(load_settings(**values))
    conn = stack.azurite.connection_string
    fs = ctx.fraud
    # a tenant created two days ago, unknown to the CRM (no ledger), running 8 GPU VMs in its Azure subscription
    new = add_customer(stack, "New GPU Tenant", [{"kind": "azure_plan", "entitlements": ["active"],
                                                  "created_days_ago": 2}])
    cid, plan = new["id"], new["subscriptions"][0]["id"]
    ent = _entitlement(stack, cid)
    _usage(stack, [_item(cid, plan, ent, 1, 900, GPU, meterId=f"gpu-{k}", resourceUri=f"/vm{k}") for k in range(8)])
    # an established customer whose Azure plan gains six Azure subscriptions yesterday
    old = add_customer(stack, "Old Plan Co", [{"kind": "azure_plan", "entitlements": ["active"],
                                               "daily_usage_units": 1.0}])
    oid, oplan = old["id"], old["subscriptions"][0]["id"]
    fresh = [str(uuid.uuid4()) for _ in range(6)]
    vm = {"meterCategory": "Virtual Machines", "meterSubCategory": "Dv3/DSv3 Series", "meterName": "D4s v3"}
    _usage(stack, [_item(oid, oplan, e, 1, 50, vm) for e in fresh])
    # exposure of a customer Partner Center no longer serves usage for
    ctx.stores.exposure.upsert("gone", "unbilled", UnbilledExposure(
        customer_id="gone", unbilled=Money.of(Decimal(500), "CNY"), as_of=utcnow() - timedelta(days=5)))

    await _scan(ctx, conn)

    rec = fs.current(cid)
    assert rec is not None
    risky = next(h.signal for h in rec.case.hits if h.signal.detector is Detector.RISKY_METER)
    assert risky.subscription_ids == (plan,) and risky.entitlement_ids == (ent,)
    assert risky.why.startswith("标记原因") and "租户创建于" in risky.why and "涉及金额 7200.00 CNY" in risky.why
    doc = fs.history.get(cid, "history")
    assert doc is not None and plan.lower() in doc.subscriptions_created  # Partner Center's creationDate, stored
    burst = fs.current(oid)
    assert burst is not None
    [sig] = [h.signal for h in burst.case.hits if h.signal.detector is Detector.SUBSCRIPTION_BURST]
    assert sig.subscription_ids == (oplan,) and set(sig.entitlement_ids) == set(fresh)
    assert ctx.stores.unbilled("gone") == Money.of(Decimal(0), "CNY")  # aged out, not kept for ever
    exposure = ctx.stores.exposure.get(cid, "unbilled")
    assert exposure is not None and exposure.as_of.date() == date.today() - timedelta(days=1)

    # resolved as legitimate: a new GPU day inside the look-back window raises nothing for 30 days
    closed, _ = resolve_case(ctx, cid, "legitimate", "ops@partner.example", "agreed ML training", suppress_days=30)
    assert "signals suppressed until" in closed.case.timeline[-1].text
    _usage(stack, [_item(cid, plan, ent, 2, 3000, GPU, meterId="gpu-late", resourceUri="/late")])
    await _scan(ctx, conn)
    after = fs.current(cid)
    assert after is not None and after.case.case_id == closed.case.case_id and not after.case.is_open

    # the declared baseline on the operator path reaches the profile detection reads
    event = declare_baseline(ctx, oid, {"expected_monthly_spend": {"amount": "9000", "currency": "CNY"},
                                        "planned_changes": [{"starts_on": date.today().isoformat(),
                                                             "ends_on": (date.today() + timedelta(days=9)).isoformat(),
                                                             "expected_factor": 2, "regions": ["ChinaEast3"]}]},
                             "ops@partner.example")
    [queued] = [e for e in _drain(conn, Queue.PAYMENT_EVENTS) if e["idempotency_key"] == event.event_id]
    record_event(ctx.stores, event, utcnow())
    prof = profile_for(ctx, oid, load_rules(ctx.settings.fraud_rules_file))
    assert prof is not None and prof.declared_monthly_spend == Decimal(9000)
    assert prof.notices[0].expected_factor == 2 and prof.notices[0].regions == ("chinaeast3",)

    # the feed stops: after the silence limit the team is told once and /api/health says so
    status = record_feed(ctx.fraud.usage_feed, None, utcnow())
    later = utcnow() + timedelta(hours=ctx.settings.fraud_usage_max_silence_hours + 1)
    assert await alarm_if_stalled(ctx, status, later)
    again = record_feed(ctx.fraud.usage_feed, None, later)
    assert not await alarm_if_stalled(ctx, again, later)  # once per stalled day
    assert any("用量数据停滞" in str(m["Subject"]) for m in stack.mailbox.messages())
    report, problems = feed_report(ctx.settings, ctx.fraud.usage_feed, later)
    assert report["status"] == "stalled" and "fraud detection is blind" in problems[0]
    assert queued


def test_baseline_cli_queues_a_customer_updated(world: tuple[CollectionsStack, dict[str, str]],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    stack, values = world
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    _drain(stack.azurite.connection_string, Queue.PAYMENT_EVENTS)
    ok = CliRunner().invoke(app, ["fraud", "baseline", "0B6F5D2A-3C1E-4F7A-9D8B-1A2B3C4D5E6F", "--monthly", "9000",
                                  "--prepayment", "500",
                                  "--change", "2026-12-01:2026-12-10:2:chinaeast3", "--actor", "ops"])
    assert ok.exit_code == 0, ok.output
    [queued] = _drain(stack.azurite.connection_string, Queue.PAYMENT_EVENTS)
    payload = queued["payload"]
    assert payload["type"] == "customer.updated" and payload["customer_id"] == "0b6f5d2a-3c1e-4f7a-9d8b-1a2b3c4d5e6f"
    assert payload["planned_changes"][0]["regions"] == ["chinaeast3"] and queued["source"] == "operator:ops"
    bad = CliRunner().invoke(app, ["fraud", "baseline", "CUST-1", "--change", "2026-12-10:2026-12-01:2"])
    assert bad.exit_code == 2 and "not accepted" in bad.output


def _usage_periods(stack: CollectionsStack, since: int) -> list[str]:
    with stack.sandbox_admin() as admin:
        calls = admin.get("/_sandbox/calls", params={"since": since}).json()["calls"]
    return sorted({q.split("period=")[1].split("&")[0] for c in calls if "lineitems" in c["path"]
                   for q in [c["query"] or ""] if "period=" in q})


async def test_both_billing_periods_are_read_early_in_a_month_only(
        world: tuple[CollectionsStack, dict[str, str]]) -> None:
    stack, values = world
    ctx = AppContext(load_settings(**values))
    with stack.sandbox_admin() as admin:
        mark = admin.get("/_sandbox/calls").json()["last"]
    today = utcnow()
    early = today.replace(day=3)  # the 3rd: the closed month's last days may be served as "previous"
    await stream(ctx, FraudScanItem(run_id=start_scan(ctx, "test", now=early).run_id, as_of=early))
    assert _usage_periods(stack, mark) == ["current", "previous"]
    with stack.sandbox_admin() as admin:
        mark = admin.get("/_sandbox/calls").json()["last"]
    late = today.replace(day=20)
    await stream(ctx, FraudScanItem(run_id=start_scan(ctx, "test", now=late).run_id, as_of=late))
    assert _usage_periods(stack, mark) == ["current"]
