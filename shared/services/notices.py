"""The notifications worker: build a notice from fresh state, send it once, record that it was sent.

A customer notice's figures (amounts, invoices, the subscriptions a suspension will touch and when) are
read when sending, not when the sweep queued it, so a payment in between is reflected or the notice is
dropped. "Sent" is recorded on the case only after the relay accepted the message: the engine's
"notice before harm" gate counts real deliveries.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shared.clock import utcnow
from shared.collections import CustomerLedger, Policy, SentNotice
from shared.collections.decision import DecisionTrace
from shared.collections.due import still_due
from shared.collections.keys import ActionKey
from shared.notify import Channel, Notification, TemplateId, format_amount
from shared.services.collections import decide
from shared.services.deadlines import consequences_context, planned_item, suspended_item
from shared.services.messages import CollectionsNotice
from shared.services.policies import policy_set
from shared.services.state import CollectionsState, Stores
from shared.services.subscriptions import describe, select
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.ports import Ports

log = logging.getLogger("cspguard.notices")
POST_ACTION = {"suspension_done", "reactivated", "team_action_failed"}


def _amounts(values: dict[str, Decimal], lang: str) -> str:
    return ", ".join(format_amount(a, c, lang) for c, a in sorted(values.items())) or format_amount(0, "CNY", lang)


def _invoices(ledger: CustomerLedger, lang: str) -> list[dict[str, str]]:
    return [{"number": i.invoice_id, "amount": format_amount(i.open - i.disputed, i.currency, lang),
             "due_date": i.due_date.isoformat()} for i in ledger.summary.open_items() if i.open > i.disputed]


def _suspension_plan(policy: Policy, notice_stage: str, anchor: Any, now: datetime) -> tuple[Any, datetime] | None:
    """The harmful stage this notice announces, and the earliest moment it may run."""
    for stage in policy.stages:
        if stage.harmful and stage.notice_stage == notice_stage and stage.trigger.days_past_due is not None:
            day = anchor + timedelta(days=stage.trigger.days_past_due) if anchor else now.astimezone(policy.tz).date()
            start = datetime.combine(day, policy.calendar.harm_window_start, tzinfo=policy.tz)
            return stage, max(start, now + timedelta(days=stage.requires_notice_days))
    return None


async def build_context(ctx: Ports, notice: CollectionsNotice, ledger: CustomerLedger,
                        now: datetime) -> dict[str, Any]:
    stores = ctx.stores
    settings = ctx.settings
    lang = ledger.profile.language
    summary = ledger.summary
    state = await asyncio.to_thread(stores.collections_state, notice.customer_id)
    policy = policy_set(settings).for_version(state.case.policy_version if state.case else None)  # the case's
    today = now.astimezone(policy.tz).date()  # the customer's calendar day, not UTC's
    overdue = summary.overdue_by_currency(today)
    open_items = [i for i in summary.open_items() if i.open > i.disputed]
    oldest_due = open_items[0].due_date if open_items else today
    base: dict[str, Any] = {
        "customer_name": ledger.profile.name or notice.customer_id, "partner_name": settings.partner_name,
        "payment_instructions": settings.payment_instructions, "contact": settings.collections_contact,
        "reference": notice.case_id or notice.key, "invoices": _invoices(ledger, lang),
        "due_date": oldest_due.isoformat(), "amount_overdue": _amounts(overdue, lang),
    }
    template = notice.template
    if template == "reminder_before_due":
        due: dict[str, Decimal] = {}
        for inv in open_items:
            due[inv.currency] = due.get(inv.currency, Decimal(0)) + inv.open - inv.disputed
        base["amount_due"] = _amounts(due, lang)
    elif template == "overdue_reminder":
        base["days_overdue"] = max((today - oldest_due).days, 0)
        base["pay_by"] = (now + timedelta(days=7)).date().isoformat()
    elif template == "final_notice":
        plan = _suspension_plan(policy, notice.stage_id, summary.oldest_unpaid_due(policy.tolerance), now)
        stage, when = plan if plan else (None, now + timedelta(days=7))
        subs = await ctx.partner_center().list_subscriptions(notice.customer_id)
        scope = stage.suspend.scope if stage is not None and stage.suspend else None
        chosen = select(subs, scope)
        base["subscriptions"] = [describe(s) for s in chosen]
        base["consequences"] = consequences_context(
            policy.suspension, [planned_item(notice.customer_id, s, when) for s in chosen], when)
        base["suspension_at"] = when.isoformat()
        base["deadline"] = (when - timedelta(hours=1)).isoformat()
    elif template in ("suspension_done", "reactivated"):
        records = await asyncio.to_thread(stores.suspended_by_us, notice.customer_id)
        if template == "suspension_done":
            # only this case's non-payment suspensions: never reveal a fraud investigation or a manual action
            # and only what Partner Center was seen to suspend/disable: an unverified record is not a suspension
            mine = [r for r in records if r.reason == "nonpayment" and r.case_id == notice.case_id
                    and r.verified_at is not None]
            base["subscriptions"] = [{"id": r.subscription_id, "name": r.name or r.subscription_id} for r in mine]
            base["suspended_at"] = now.isoformat()
            base["consequences"] = await _suspended_consequences(ctx, policy, notice.customer_id, mine, now)
        else:
            history = await asyncio.to_thread(ctx.audit.history, notice.customer_id, 20)
            audit = [e for e in history if e.action == "reactivate"]
            changed = audit[0].evidence.get("changed", []) if audit else []
            base["subscriptions"] = [{"id": s, "name": s} for s in changed]
            base["reactivated_at"] = now.isoformat()
            paid = summary.payments[-1] if summary.payments else None
            base["amount_received"] = format_amount(paid[2], paid[1], lang) if paid else _amounts({}, lang)
    elif template == "team_alert":
        from shared.services.alerts import alert_context

        base.update({**alert_context(notice, ledger.profile.name), "raised_at": now.isoformat()})
    elif template == "team_message_kept" and notice.letter is not None:
        letter = await asyncio.to_thread(ctx.deadletters.get, notice.letter.queue, notice.letter.id)
        base.update({"queue": notice.letter.queue, "letter_id": notice.letter.id, "reason": notice.reason,
                     "origin": letter.origin.value if letter else "handler",
                     "received_at": (letter.received_at if letter else now).isoformat(),
                     "size": len(letter.body) if letter else 0})
    elif template == "team_action_failed":
        verb = "suspend" if "suspend" in notice.reason else "reactivate"
        base.update({"action": verb, "verb": verb, "attempts": 1, "attempted_at": now.isoformat(),
                     "case_id": notice.case_id or "-", "error": notice.reason,
                     "customer": {"name": ledger.profile.name or notice.customer_id,
                                  "tenant_id": notice.customer_id},
                     # exactly the targets the worker could not bring to the intended state (none when blocked)
                     "subscriptions": [t.model_dump() for t in notice.targets]})
    elif template == "team_stage_entered":
        stage = next((s for s in policy.stages if s.id == notice.stage_id), None)
        exposure = await asyncio.to_thread(stores.unbilled, notice.customer_id)
        base.update({"stage_id": notice.stage_id, "stage_name": stage.name.get(lang) if stage else notice.stage_id,
                     "why": notice.reason or "-", "case_id": notice.case_id or "-", "entered_at": now.isoformat(),
                     "customer": {"name": ledger.profile.name or notice.customer_id, "tenant_id": notice.customer_id},
                     "unbilled": format_amount(exposure.amount, exposure.currency, lang) if exposure else "-",
                     "credit_limit": format_amount(ledger.profile.credit_limit.amount,
                                                   ledger.profile.credit_limit.currency, lang)
                     if ledger.profile.credit_limit else "-"})
    return base


async def _suspended_consequences(ctx: Ports, policy: Policy, customer_id: str, records: list[Any],
                                  now: datetime) -> dict[str, Any]:
    """What the suspension does to each suspended subscription (its type and term end read from Partner Center;
    if Partner Center cannot be read the notice still states the data-deletion period)."""
    from shared.partner_center import PartnerCenterError

    try:
        subs = {s.id: s for s in await ctx.partner_center().list_subscriptions(customer_id)}
    except PartnerCenterError as exc:
        log.warning("suspension notice for %s: subscription types unavailable: %s", customer_id, exc)
        subs = {}
    return consequences_context(policy.suspension, [suspended_item(r, subs.get(r.subscription_id)) for r in records],
                                now)


def _still_relevant(stores: Stores, ctx: Ports, notice: CollectionsNotice,
                    now: datetime) -> tuple[str, DecisionTrace | None] | None:
    """Why a reminder should no longer go out (the customer paid meanwhile) and the fresh decision that says
    so, or None."""
    if notice.template in POST_ACTION or notice.audience == "team":
        return None
    decision = decide(stores, ctx.settings, notice.customer_id, now, persist=False)
    policy = policy_set(ctx.settings).for_version(decision.policy_version if decision else None)
    key = ActionKey.for_stage("notify_customer", notice.customer_id, notice.stage_id, case_id=notice.case_id)
    due = still_due(decision, key, policy)
    return None if due else (due.reason, decision.trace if decision else None)


async def deliver(ctx: Ports, notice: CollectionsNotice, *, now: datetime | None = None,
                  correlation_id: str = "") -> str:
    """Send one collections notice at most once; returns what happened (for logs and tests)."""
    now = now or utcnow()
    stores = ctx.stores
    # storage calls are synchronous: threads keep them off the event loop other invocations share
    ledger = await asyncio.to_thread(stores.ledger, notice.customer_id)
    if ledger is None and notice.audience == "team" and notice.customer_id == "*":
        ledger = CustomerLedger.empty("portfolio")  # a portfolio-wide alert (a halted sweep) has no one customer
    if ledger is None:
        if notice.audience != "team":
            return "skipped: no ledger"
        ledger = CustomerLedger.empty(notice.customer_id)  # a portfolio alert ("*") still reaches the team
    stale = await asyncio.to_thread(_still_relevant, stores, ctx, notice, now)
    if stale:
        why, fresh = stale
        await asyncio.to_thread(ctx.audit.record, AuditEntry(
            customer_id=notice.customer_id, action="notice.skipped", actor="csp-guard",
            reason=f"{notice.template}: {why}", correlation_id=correlation_id, decision=fresh))
        return f"skipped: {why}"
    context = await build_context(ctx, notice, ledger, now)
    team = notice.audience == "team"
    recipient: str | None
    if team and ctx.settings.team_webhook_url:
        channel, recipient = Channel.WEBHOOK, "team"
    else:
        channel, recipient = Channel.EMAIL, (ctx.settings.collections_contact if team else ledger.profile.contact_email)
    if not recipient:
        await asyncio.to_thread(ctx.audit.record, AuditEntry(
            customer_id=notice.customer_id, action="notice.failed", actor="csp-guard",
            reason=f"{notice.template}: no contact e-mail on file", outcome="failed"))
        return "failed: no contact e-mail"
    template = notice.template
    if template not in {t.value for t in TemplateId}:  # never a template chosen by accident: say so and stop
        await asyncio.to_thread(ctx.audit.record, AuditEntry(
            customer_id=notice.customer_id, action="notice.failed", actor="csp-guard",
            reason=f"unknown template {template!r} for stage {notice.stage_id}", outcome="failed"))
        return f"failed: unknown template {template!r}"
    notification = Notification(idempotency_key=notice.key, channel=channel, recipient=recipient,
                                template_id=TemplateId(template), language=ledger.profile.language, context=context)

    def send() -> dict[str, Any]:
        return ctx.notifier.send(notification).model_dump(mode="json")

    ran, result = await ctx.idempotency.run_once_async("notice", notice.key, lambda: asyncio.to_thread(send))
    if not ran:  # sent before; make sure the delivery was recorded (the first attempt may have died after sending)
        await asyncio.to_thread(_record_delivery, stores, notice, team, now, True)
        return "duplicate"
    await asyncio.to_thread(_record_sent, ctx, notice, template, team, now, correlation_id, result)
    return "sent"


def _record_delivery(stores: Stores, notice: CollectionsNotice, team: bool, now: datetime,
                     only_if_missing: bool = False) -> None:
    """Record a customer notice's delivery on its case. For a duplicate, only if the case lacks it (a later time
    than the real one only delays harm)."""
    if team or notice.template in POST_ACTION:
        return

    def add(state: CollectionsState | None) -> CollectionsState | None:
        state = state or CollectionsState(customer_id=notice.customer_id)
        if only_if_missing and (notice.case_id is None or any(
                n.stage_id == notice.stage_id and n.case_id == notice.case_id for n in state.notices)):
            return None  # recorded already (or not tied to a case: nothing gates on it)
        sent = SentNotice(stage_id=notice.stage_id, sent_at=now, case_id=notice.case_id)
        return state.model_copy(update={"notices": [*state.notices, sent][-100:]})

    stores.cases.update(notice.customer_id, "collections", add)


def _record_sent(ctx: Ports, notice: CollectionsNotice, template: str, team: bool,
                 now: datetime, correlation_id: str, result: dict[str, Any]) -> None:
    """The delivery is a fact the engine's notice gate relies on: record it on the case and in the audit log."""
    stores = ctx.stores
    _record_delivery(stores, notice, team, now)
    from shared.observability import metrics

    metrics().action("notice", "sent")
    ctx.audit.record(AuditEntry(customer_id=notice.customer_id, action="notice.sent", actor="csp-guard",
                                reason=f"{template} to {'team' if team else 'customer'}", at=now,
                                correlation_id=correlation_id,
                                evidence={"key": notice.key, "message_id": result.get("message_id"),
                                          "stage_id": notice.stage_id, "subject": result.get("subject"),
                                          "text": result.get("text", "")}, decision=notice.decision))
