"""Notices (functions/collections.py notification -> shared.services.notices.deliver): the stage's notice is
rendered and e-mailed once however often the host delivers it; one that went stale (the customer paid) is not
sent, and the audit says why."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.messaging import Envelope, Queue
from tests.functional.conftest import World

pytestmark = pytest.mark.functional


async def _noticed_customer(world: World, name: str) -> tuple[str, list[Envelope]]:
    """An overdue customer whose stage notices are queued, not yet delivered."""
    cid, _ = world.customer(name, {"kind": "azure_plan", "friendly_name": "Azure plan", "entitlements": ["active"]})
    today = world.today()
    await world.host.deliver(Queue.PAYMENT_EVENTS, world.event(
        "customer.updated", cid, name=name, contact_email="finance@notice.example", language="en"))
    await world.host.deliver(Queue.PAYMENT_EVENTS, world.event(
        "invoice.issued", cid, invoice_id="INV-N1", amount="2500.00", currency="CNY",
        issue_date=(today - timedelta(days=50)).isoformat(), due_date=(today - timedelta(days=20)).isoformat()))
    return cid, world.ctx.queues.take(Queue.NOTIFICATIONS)


def _customer_notice(notices: list[Envelope]) -> Envelope:
    [notice] = [n for n in notices if n.payload["audience"] == "customer"]
    return notice


async def test_a_stage_notice_is_emailed_once_however_often_it_is_delivered(world: World) -> None:
    cid, notices = await _noticed_customer(world, "Notice Once Ltd")
    notice = _customer_notice(notices)
    assert notice.payload["template"] == "final_notice"

    assert await world.host.deliver(Queue.NOTIFICATIONS, notice) == "sent"
    assert await world.host.deliver(Queue.NOTIFICATIONS, notice) == "duplicate"  # the host redelivers
    [mail] = world.mail_to("finance@notice.example")
    assert str(mail["Subject"]).startswith("Final notice: pay CNY 2,500.00")
    body = mail.get_body(("plain",)).get_content()
    assert "INV-N1" in body and "Azure plan" in body and "Example CSP Partner" in body
    state = world.ctx.stores.collections_state(cid)
    assert [n for n in state.notices] and len(world.audit(cid, "notice.sent")) == 1


async def test_a_stale_notice_is_skipped_and_audited(world: World) -> None:
    cid, notices = await _noticed_customer(world, "Paid Meanwhile Co")
    notice = _customer_notice(notices)
    await world.host.deliver(Queue.PAYMENT_EVENTS, world.event(
        "payment.received", cid, payment_id="PAY-N1", amount="2500.00", currency="CNY",
        received_at=world.clock.now().isoformat()))

    result = await world.host.deliver(Queue.NOTIFICATIONS, notice)  # queued before the payment, delivered after
    assert result.startswith("skipped:")
    assert world.mail_to("finance@notice.example") == []
    [entry] = world.audit(cid, "notice.skipped")
    assert entry.reason.startswith("final_notice: ") and entry.reason.removeprefix("final_notice: ") in result
    assert not world.ctx.stores.collections_state(cid).notices


async def test_a_notice_the_relay_refuses_is_kept_with_its_reason(world: World) -> None:
    cid, notices = await _noticed_customer(world, "Bounced Mail Ltd")
    world.ctx.notifier.refuse.add("finance@notice.example")  # the relay refuses the recipient for good
    assert await world.host.deliver(Queue.NOTIFICATIONS, _customer_notice(notices)) is None
    [letter] = world.ctx.deadletters.list(Queue.NOTIFICATIONS)
    assert letter.reason.startswith("not deliverable:") and "finance@notice.example" in letter.reason
    assert letter.customer_id == cid and not world.ctx.stores.collections_state(cid).notices
    assert not world.ctx.queues.kinds(Queue.NOTIFICATIONS)  # parked, not retried forever
