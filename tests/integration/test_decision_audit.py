"""A collections decision's reasons and fingerprint are kept with the audit entry of each action it caused
(suspend, reactivate, notice) and read back from the audit table. Against Azurite, the Partner Center sandbox
and the SMTP mailbox, through the use cases the queue handlers call (decide, dispatch, execute, deliver)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from devtools.azurite import Azurite
from shared.collections import CollectionsCase, CustomerLedger, SentNotice, apply_events
from shared.context import AppContext
from shared.domain import CustomerUpdated, InvoiceIssued, PaymentReceived
from shared.services.collections import decide, dispatch
from shared.services.enforcement import execute
from shared.services.notices import deliver
from shared.services.payments import FEED
from shared.services.state import CollectionsState, FeedStatus
from shared.settings import load_settings
from tests.e2e_collections.conftest import CollectionsStack, add_customer, services_world

pytestmark = pytest.mark.integration
NOW = datetime(2026, 7, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Wednesday morning: harm may run


@pytest.fixture(scope="module")
def world(azurite: Azurite) -> Iterator[tuple[CollectionsStack, dict[str, str]]]:
    yield from services_world(azurite, seed=11, customers=1)


def _ledger(cid: str, paid: bool) -> CustomerLedger:
    due, stamp = NOW.date() - timedelta(days=35), NOW - timedelta(days=36)
    events: list[Any] = [
        CustomerUpdated(event_id=f"{cid}-c", customer_id=cid, occurred_at=stamp, type="customer.updated",
                        name="Trace Ltd", contact_email="ap@trace.example"),
        InvoiceIssued(event_id=f"{cid}-i", customer_id=cid, occurred_at=stamp, type="invoice.issued",
                      invoice_id="INV-1", amount=Decimal("5000.00"), currency="CNY",
                      issue_date=due - timedelta(days=30), due_date=due)]
    if paid:
        events.append(PaymentReceived(event_id=f"{cid}-p", customer_id=cid, occurred_at=NOW, type="payment.received",
                                      payment_id="PAY-1", amount=Decimal("5000.00"), currency="CNY",
                                      received_at=NOW, invoice_id="INV-1"))
    return apply_events(CustomerLedger.empty(cid), events)


async def test_suspension_reactivation_and_notice_audits_keep_the_decision_behind_them(
        world: tuple[CollectionsStack, dict[str, str]]) -> None:
    stack, values = world
    ctx = AppContext(load_settings(**values))
    stores = ctx.stores
    cid = add_customer(stack, "Trace Ltd", [{"kind": "azure_plan", "entitlements": ["active"]},
                                            {"kind": "license", "friendly_name": "Office 365 E3"}])["id"]
    stores.ledgers.upsert(cid, "ledger", _ledger(cid, paid=False))
    case = CollectionsCase(case_id=f"{cid}/trace", customer_id=cid, policy_version="e2e-1",
                           opened_at=NOW - timedelta(days=30))
    stores.cases.upsert(cid, "collections", CollectionsState(customer_id=cid, case=case, notices=[
        SentNotice(stage_id="final_notice", sent_at=NOW - timedelta(days=10), case_id=case.case_id)]))
    stores.feeds.upsert("feed", FEED, FeedStatus(name=FEED, last_event_at=NOW, events=1))  # the feed is fresh

    decision = decide(stores, ctx.settings, cid, NOW)
    assert decision is not None and decision.suspends, decision
    sent_out = dispatch(ctx, decision, NOW, allow_suspend=True, actor="csp-guard:test")
    [suspend] = [r for r in sent_out.enforcement if r.action == "suspend"]
    assert suspend.decision == decision.trace  # carried by the queue message
    out = await execute(ctx, suspend, now=NOW)
    assert out.status == "done", out
    [entry] = [e for e in ctx.audit.history(cid, 20) if e.action == "suspend"]
    assert entry.decision is not None and entry.decision.fingerprint == decision.fingerprint
    assert [(r.code, r.text) for r in entry.decision.reasons] == [(r.code, r.text) for r in decision.reasons]
    assert any(r.code == "stage" and "suspend_usage" in r.text for r in entry.decision.reasons)

    [notice] = [n for n in suspend.then_notify if n.audience == "customer"]  # sent once the suspension is verified
    assert await deliver(ctx, notice, now=NOW) == "sent"
    [sent] = [e for e in ctx.audit.history(cid, 20) if e.action == "notice.sent"]
    assert sent.decision == decision.trace

    stores.ledgers.upsert(cid, "ledger", _ledger(cid, paid=True))  # the customer pays: the suspension is lifted
    later = NOW + timedelta(hours=1)
    paid = decide(stores, ctx.settings, cid, later)
    assert paid is not None
    [lift] = [r for r in dispatch(ctx, paid, later, allow_suspend=False, actor="csp-guard:test").enforcement
              if r.action == "reactivate"]
    assert (await execute(ctx, lift, now=later)).status == "done"
    [back] = [e for e in ctx.audit.history(cid, 20) if e.action == "reactivate"]
    assert back.decision is not None and back.decision.fingerprint == paid.fingerprint != decision.fingerprint
    assert {r.code for r in back.decision.reasons} & {"reactivate", "case_closed"}
