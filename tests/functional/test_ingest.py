"""Payment events in (functions/payments.py payment_event -> shared.services.payments.ingest): an overdue invoice
opens a case and sends its notice, a payment settles the ledger, a redelivered event changes nothing, and a bad
payload is kept as a dead letter with its reason and replayed once corrected (functions/deadletters.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from shared.messaging import Queue
from shared.services.deadletters import replay
from tests.functional.conftest import World

pytestmark = pytest.mark.functional


async def _overdue(world: World, name: str, email: str, days: int = 20) -> str:
    cid, _ = world.customer(name, {"kind": "azure_plan", "entitlements": ["active"]})
    today = world.today()
    world.ctx.producer.send(Queue.PAYMENT_EVENTS, world.event("customer.updated", cid, name=name,
                                                              contact_email=email, language="en"))
    world.ctx.producer.send(Queue.PAYMENT_EVENTS, world.event(
        "invoice.issued", cid, invoice_id=f"INV-{cid[:6]}", amount="5000.00", currency="CNY",
        issue_date=(today - timedelta(days=days + 30)).isoformat(),
        due_date=(today - timedelta(days=days)).isoformat()))
    await world.host.run(Queue.PAYMENT_EVENTS)
    return cid


async def test_overdue_invoice_opens_a_case_and_its_notice_is_emailed(world: World) -> None:
    cid = await _overdue(world, "Late Payer Ltd", "ap@late.example")
    ledger = world.ctx.stores.ledger(cid)
    assert ledger is not None and ledger.profile.name == "Late Payer Ltd"
    assert ledger.summary.overdue_by_currency(world.today()) == {"CNY": 5000}
    # 20 days past due: the policy's final notice (days 15+), sent to the customer and the team
    assert "collections.notice" in world.ctx.queues.kinds(Queue.NOTIFICATIONS)
    await world.host.run(Queue.NOTIFICATIONS)
    final = [m for m in world.mail_to("ap@late.example") if "Final notice" in str(m["Subject"])]
    assert len(final) == 1
    assert "5,000.00" in final[0].get_body(("plain",)).get_content()
    state = world.ctx.stores.collections_state(cid)
    assert state.case is not None and state.notices  # the delivered notice starts the notice period
    assert world.subscriptions(cid) == dict.fromkeys(world.subscriptions(cid), "active")  # an event never suspends


async def test_payment_settles_the_ledger_and_a_redelivered_event_changes_nothing(world: World) -> None:
    cid = await _overdue(world, "Pays Late Co", "ap@pays.example")
    await world.host.run(Queue.NOTIFICATIONS)
    sent = len(world.ctx.notifier.emails)
    payment = world.event("payment.received", cid, payment_id="PAY-1", amount="5000.00", currency="CNY",
                          received_at=world.clock.now().isoformat())
    changed, _ = await world.host.deliver(Queue.PAYMENT_EVENTS, payment)
    assert changed is True
    ledger = world.ctx.stores.ledger(cid)
    assert ledger is not None and ledger.summary.overdue_by_currency(world.today()) == {}
    assert "PAY-1" in ledger.payments
    before = ledger.model_dump()

    again, _ = await world.host.deliver(Queue.PAYMENT_EVENTS, payment)  # at-least-once: the host redelivers
    assert again is False
    ledger = world.ctx.stores.ledger(cid)
    assert ledger is not None and ledger.model_dump() == before
    await world.host.run()
    assert len(world.ctx.notifier.emails) == sent  # no second notice, nothing to enforce
    assert not world.ctx.queues.kinds(Queue.ENFORCEMENT)


async def test_bad_payload_is_kept_with_its_reason_and_replayed_once_corrected(world: World) -> None:
    cid, _ = world.customer("Typo Trading Ltd", {"kind": "license"})
    good = world.event("invoice.issued", cid, invoice_id="INV-T1", amount="100.00", currency="CNY",
                       issue_date=world.today().isoformat(), due_date=(world.today() + timedelta(days=30)).isoformat())
    raw = json.loads(good.model_dump_json())
    raw["payload"]["amount"] = "-100.00"  # the billing system sent a negative invoice
    await world.host.deliver(Queue.PAYMENT_EVENTS, json.dumps(raw))

    assert world.ctx.stores.ledger(cid) is None  # nothing applied
    [letter] = world.ctx.deadletters.list(Queue.PAYMENT_EVENTS)
    assert letter.waiting and letter.customer_id == cid
    assert "invalid invoice.issued payload" in letter.reason and "amount" in letter.reason
    assert [d.id for d in world.ctx.deadletters.waiting_for(cid)] == [letter.id]  # it blocks its customer

    raw["payload"]["amount"] = "100.00"
    settled = replay(world.ctx, Queue.PAYMENT_EVENTS, letter.id, "operator:ops@partner.example", json.dumps(raw))
    assert settled.status.value == "replayed" and settled.replayed_by == "operator:ops@partner.example"
    assert world.ctx.deadletters.waiting_for(cid) == []
    await world.host.run(Queue.PAYMENT_EVENTS)  # the replay went back to its own queue
    ledger = world.ctx.stores.ledger(cid)
    assert ledger is not None and "INV-T1" in ledger.invoices
    audit = world.audit(cid, "deadletter.replayed")
    assert audit and audit[0].actor == "operator:ops@partner.example" and audit[0].evidence["letter_id"] == letter.id
    with pytest.raises(Exception, match="already replayed"):
        replay(world.ctx, Queue.PAYMENT_EVENTS, letter.id, "operator:ops@partner.example")


async def test_poison_is_drained_into_the_dead_letters_and_blocks_suspension_until_settled(world: World) -> None:
    from base64 import b64encode

    from shared.services.deadletters import discard, drain_poison

    cid, _ = await world.overdue_customer("Poisoned Ltd")
    await world.pass_days(8)
    await world.sweep()
    [request] = world.ctx.queues.take(Queue.ENFORCEMENT)
    # the host gave up on a payment event of this customer (every attempt failed) and moved it to poison
    event = world.event("payment.received", cid, payment_id="PAY-X", amount="5000.00", currency="CNY",
                        received_at=world.clock.now().isoformat())
    world.ctx.queues.put_poison(Queue.PAYMENT_EVENTS.poison, b64encode(event.model_dump_json().encode()).decode())
    world.ctx.queues.put_poison(Queue.ENFORCEMENT.poison, "%% not base64 %%")

    drained = drain_poison(world.ctx)  # functions/deadletters.py drain_poison_queues (every minute)
    assert drained.moved == 2 and drained.by_queue == {Queue.PAYMENT_EVENTS.value: 1, Queue.ENFORCEMENT.value: 1}
    assert world.ctx.queues.receive(Queue.PAYMENT_EVENTS.poison, 10) == []
    [kept] = world.ctx.deadletters.waiting_for(cid)
    assert "exceeded maxDequeueCount" in kept.reason
    [undecodable] = world.ctx.deadletters.list(Queue.ENFORCEMENT)
    assert undecodable.reason.startswith("undecodable") and undecodable.customer_id is None

    # never suspend while a message naming the customer waits (it might be the payment)
    outcome = await world.host.deliver(Queue.ENFORCEMENT, request)
    assert outcome.status == "blocked" and "dead-letter store" in outcome.detail
    assert set(world.subscriptions(cid).values()) == {"active"}
    discard(world.ctx, Queue.ENFORCEMENT, undecodable.id, "operator:ops@partner.example", "garbage from a test tool")
    replay(world.ctx, Queue.PAYMENT_EVENTS, kept.id, "operator:ops@partner.example")
    await world.host.run(Queue.PAYMENT_EVENTS)  # the payment applies: nothing is due any more
    outcome = await world.host.deliver(Queue.ENFORCEMENT, request)
    assert outcome.status == "skipped" and set(world.subscriptions(cid).values()) == {"active"}


async def test_enforcement_drains_poison_itself_before_suspending(world: World) -> None:
    from base64 import b64encode

    cid, _ = await world.overdue_customer("Fresh Poison Ltd")
    await world.pass_days(8)
    await world.sweep()
    [request] = world.ctx.queues.take(Queue.ENFORCEMENT)
    event = world.event("invoice.credited", cid, invoice_id=f"INV-{cid[:6]}", amount="5000.00")
    world.ctx.queues.put_poison(Queue.PAYMENT_EVENTS.poison, b64encode(event.model_dump_json().encode()).decode())

    outcome = await world.host.deliver(Queue.ENFORCEMENT, request)  # no drain timer ran in between
    assert outcome.status == "blocked" and "dead-letter store" in outcome.detail
    assert [d.origin.value for d in world.ctx.deadletters.waiting_for(cid)] == ["poison"]
    assert set(world.subscriptions(cid).values()) == {"active"}
