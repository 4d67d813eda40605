"""The collections story end to end, through the runner's HTTP API and queues, the sandbox and SMTP:
invoice overdue -> final notice e-mailed -> (notice period passes) -> sweep suspends the in-scope
subscription in Partner Center -> the customer pays -> reactivated within seconds; plus the guards."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from shared.services.state import CollectionsState, FeedStatus, Stores
from tests.e2e_collections.conftest import CollectionsStack, add_customer, subscription_status, wait_until

pytestmark = pytest.mark.e2e


def _event(kind: str, customer_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"{kind}-{uuid.uuid4().hex[:10]}", "customer_id": customer_id,
            "occurred_at": datetime.now(UTC).isoformat(), **fields}


def _stores(stack: CollectionsStack) -> Stores:
    return Stores(TableServiceClient.from_connection_string(stack.azurite.connection_string))


def _overdue_customer(stack: CollectionsStack, name: str, email: str, amount: str = "5000.00") -> tuple[str, dict[str, str]]:
    """A customer with an Azure plan (in the suspension scope) and a licence subscription (not in scope),
    40 days past due on one invoice."""
    created = add_customer(stack, name, [{"kind": "azure_plan", "friendly_name": "Azure plan"},
                                         {"kind": "license", "friendly_name": "Office 365 E3"}])
    cid = created["id"]
    kinds = {s["id"]: s["offerId"] for s in created["subscriptions"]}
    today = date.today()
    events = [
        _event("customer.updated", cid, name=name, contact_email=email, language="en"),
        _event("invoice.issued", cid, invoice_id=f"INV-{cid[:6]}", amount=amount, currency="CNY",
               issue_date=(today - timedelta(days=70)).isoformat(), due_date=(today - timedelta(days=40)).isoformat()),
    ]
    with stack.api() as api:
        r = api.post("/payment-events", json=events)
        assert r.status_code == 202, r.text
    return cid, kinds


def _rewind_notices(stack: CollectionsStack, cid: str, days: int) -> None:
    """The passage of time: move the case opening and its delivered notices ``days`` into the past."""
    stores = _stores(stack)

    def rewind(state: CollectionsState | None) -> CollectionsState | None:
        assert state is not None and state.case is not None
        case = state.case.model_copy(update={"opened_at": state.case.opened_at - timedelta(days=days)})
        notices = [n.model_copy(update={"sent_at": n.sent_at - timedelta(days=days)}) for n in state.notices]
        return state.model_copy(update={"case": case, "notices": notices})

    stores.cases.update(cid, "collections", rewind)


def _mail_to(stack: CollectionsStack, address: str) -> list[Any]:
    return [m for m in stack.mailbox.messages() if address in str(m["To"])]


def _run_sweep(stack: CollectionsStack) -> dict[str, Any]:
    with stack.api() as api:
        run = api.post("/collections/sweep").json()
        return wait_until(lambda: (lambda r: r if r["status"] != "running" else None)(
            api.get(f"/collections/runs/{run['run_id']}").json()), what="sweep to finish")


def test_overdue_customer_is_noticed_suspended_after_notice_period_and_reactivated_on_payment(
        collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    email = "finance@overdue-one.example"
    cid, subs = _overdue_customer(stack, "Overdue One Ltd", email)
    plan = next(s for s, offer in subs.items() if offer.startswith("DZH318Z0BPS6"))
    licence = next(s for s in subs if s != plan)

    # the event path opens a case and sends the final notice (required before any suspension)
    final = wait_until(lambda: [m for m in _mail_to(stack, email) if "Final notice" in str(m["Subject"])],
                       what="final notice e-mail")
    body = final[0].get_body(("plain",)).get_content()
    assert "5,000.00" in body and "Azure plan" in body and "Office 365" not in body

    # immediately, a sweep must not suspend: the notice is younger than the policy's 7 days
    run = _run_sweep(stack)
    assert run["planned_suspensions"] == 0
    with stack.api() as api:
        status = api.get(f"/customers/{cid}/status").json()
    assert "notice_too_recent" in [r["code"] for r in status["decision"]["blocked_by"]]
    assert subscription_status(stack, cid)[plan] == "active"

    _rewind_notices(stack, cid, days=8)
    run = _run_sweep(stack)
    assert run["status"] == "completed" and run["customers_to_suspend"] == 1
    wait_until(lambda: subscription_status(stack, cid)[plan] == "suspended", what="plan suspended")
    assert subscription_status(stack, cid)[licence] == "active"  # out of the stage's scope
    wait_until(lambda: [m for m in _mail_to(stack, email) if "suspended" in str(m["Subject"]).lower()],
               what="suspension e-mail")
    with stack.api() as api:
        status = api.get(f"/customers/{cid}/status").json()
    assert [r["subscription_id"] for r in status["suspended_by_csp_guard"]] == [plan]
    assert status["suspended_by_csp_guard"][0]["reason"] == "nonpayment"
    suspend_audit = next(e for e in status["history"] if e["action"] == "suspend")
    assert suspend_audit["outcome"] == "done" and suspend_audit["actor"] == "csp-guard:sweep"

    # the customer pays: reactivation follows the event, not the next sweep
    paid_at = time.monotonic()
    payment = _event("payment.received", cid, payment_id="PAY-1", amount="5000.00", currency="CNY",
                     received_at=datetime.now(UTC).isoformat())
    with stack.api() as api:
        assert api.post("/payment-events", json=payment).status_code == 202
        assert api.post("/payment-events", json=payment).status_code == 202  # a producer's retry
    wait_until(lambda: subscription_status(stack, cid)[plan] == "active", timeout=30, what="reactivation")
    latency = time.monotonic() - paid_at
    print(f"payment -> reactivated in {latency:.2f}s")
    wait_until(lambda: [m for m in _mail_to(stack, email) if "reactivat" in str(m["Subject"]).lower()],
               what="reactivation e-mail")
    with stack.api() as api:
        status = api.get(f"/customers/{cid}/status").json()
    assert status["suspended_by_csp_guard"] == []
    assert status["case"] is None
    reactivations = [e for e in status["history"] if e["action"] == "reactivate" and e["outcome"] == "done"]
    assert len(reactivations) == 1


def test_stale_payment_feed_blocks_suspension(collections_stack: CollectionsStack) -> None:
    stack = collections_stack
    cid, subs = _overdue_customer(stack, "Stale Feed Co", "ap@stale.example")
    wait_until(lambda: _stores(stack).collections_state(cid).notices, what="final notice recorded")
    _rewind_notices(stack, cid, days=8)
    stores = _stores(stack)
    stores.feeds.upsert("feed", "payment-events",
                        FeedStatus(name="payment-events", last_event_at=datetime.now(UTC) - timedelta(days=3)))
    _run_sweep(stack)
    history = wait_until(lambda: [e for e in stack_history(stack, cid) if e["action"] == "suspend"],
                         what="blocked suspension audited")
    assert history[0]["outcome"] == "blocked" and "stale" in history[0]["evidence"]["detail"]
    assert set(subscription_status(stack, cid).values()) == {"active"}
    # fresh data again: the next sweep suspends
    with stack.api() as api:
        api.post("/payment-events", json=_event("customer.updated", cid, segment="standard"))
    wait_until(lambda: (stores.feeds.get("feed", "payment-events").last_event_at  # type: ignore[union-attr]
                        > datetime.now(UTC) - timedelta(minutes=5)), what="feed fresh")
    _run_sweep(stack)
    plan = next(s for s, offer in subs.items() if offer.startswith("DZH318Z0BPS6"))
    wait_until(lambda: subscription_status(stack, cid)[plan] == "suspended", what="suspended on fresh data")


def stack_history(stack: CollectionsStack, cid: str) -> list[dict[str, Any]]:
    with stack.api() as api:
        return api.get(f"/customers/{cid}/status").json()["history"]  # type: ignore[no-any-return]
