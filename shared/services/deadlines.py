"""Suspension consequences around Partner Center: the facts customer notices state per subscription type, and
the team alert before a suspended subscription reaches its data-deletion date, its term end or the end of the
period in which a cancelled Azure subscription can be reactivated.

The check runs with the collections sweep timer (and on demand: ``GET /api/collections/suspension-deadlines``,
``cspguard suspension-deadlines``). It reads csp-guard's suspension records and each customer's subscriptions
from Partner Center (status now, term end); an alert goes to the team once per subscription, kind and date.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from shared.clock import utcnow
from shared.collections.consequences import Deadline, Suspended, consequence_items, due_alerts, term_end
from shared.collections.policy import Policy, SuspensionTerms
from shared.services.state import SuspensionRecord
from shared.services.subscriptions import is_new_commerce, kind_of
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.partner_center import Subscription
    from shared.ports import Ports

log = logging.getLogger("cspguard.deadlines")
ACTOR = "csp-guard:deadlines"


def suspended_item(record: SuspensionRecord, sub: Subscription | None) -> Suspended:
    """A suspension record with what Partner Center says of its subscription (None: could not be read)."""
    kind = "azure_subscription" if record.entitlement_id else (kind_of(sub) if sub else "unknown")
    pc_name = (sub.friendly_name or sub.offer_name) if sub else None
    return Suspended(customer_id=record.customer_id, subscription_id=record.subscription_id,
                     entitlement_id=record.entitlement_id, name=record.name or pc_name or record.subscription_id,
                     kind=kind, new_commerce=bool(sub and is_new_commerce(sub)),
                     term_end=term_end(sub.commitment_end_date) if sub else None,
                     suspended_at=record.suspended_at, reason=record.reason, case_id=record.case_id,
                     status=str(sub.status.value) if sub else "unknown")


def planned_item(customer_id: str, sub: Subscription, at: datetime) -> Suspended:
    """A subscription a notice says will be suspended at ``at``."""
    return Suspended(customer_id=customer_id, subscription_id=sub.id,
                     name=sub.friendly_name or sub.offer_name or sub.id, kind=kind_of(sub),
                     new_commerce=is_new_commerce(sub), term_end=term_end(sub.commitment_end_date),
                     suspended_at=at, reason="nonpayment", status=str(sub.status.value))


def consequences_context(terms: SuspensionTerms, items: Iterable[Suspended], start: datetime) -> dict[str, Any]:
    """The ``consequences`` value of suspension notices: per-subscription facts and the policy's periods."""
    return {"items": consequence_items(items), "data_deletion_days": terms.data_deletion_days,
            "azure_reactivation_days": terms.azure_reactivation_days,
            "data_deletion_date": (start + timedelta(days=terms.data_deletion_days)).date().isoformat()}


class DeadlineReport(BaseModel):
    checked_at: datetime
    suspended: int = 0
    due: list[dict[str, Any]] = Field(default_factory=list)
    alerted: int = 0
    errors: list[str] = Field(default_factory=list)


async def _items(ctx: Ports, records: list[SuspensionRecord]) -> tuple[list[Suspended], list[str]]:
    from shared.partner_center import PartnerCenterError

    by_customer: dict[str, list[SuspensionRecord]] = defaultdict(list)
    for r in records:
        by_customer[r.customer_id].append(r)
    items: list[Suspended] = []
    errors: list[str] = []
    for cid, recs in sorted(by_customer.items()):
        try:
            subs = {s.id: s for s in await ctx.partner_center().list_subscriptions(cid)}
        except PartnerCenterError as exc:  # deadlines still count from our records; the status shows "unknown"
            errors.append(f"{cid}: Partner Center: {exc}")
            subs = {}
        items += [suspended_item(r, subs.get(r.subscription_id)) for r in recs]
    return items, errors


def _row(d: Deadline) -> dict[str, Any]:
    return {"customer_id": d.item.customer_id, "subscription_id": d.item.subscription_id,
            "entitlement_id": d.item.entitlement_id, "name": d.item.name, "kind": d.kind, "on": d.on.isoformat(),
            "days_left": d.days_left, "status": d.item.status, "key": d.key}


async def check_suspension_deadlines(ctx: Ports, now: datetime | None = None, send: bool = True,
                                     policy: Policy | None = None) -> DeadlineReport:
    """Find suspended subscriptions near a point of no return and alert the team once per deadline
    (``send=False``: only report them). Periods and the alert window come from the current policy."""
    from shared.services.policies import policy_set

    now = now or utcnow()
    policy = policy or policy_set(ctx.settings).for_version(None)
    records = await asyncio.to_thread(lambda: list(ctx.stores.suspensions.query()))
    items, errors = await _items(ctx, records)
    today = now.astimezone(policy.tz).date()
    due = due_alerts(items, policy.suspension, today)
    report = DeadlineReport(checked_at=now, suspended=len(items), due=[_row(d) for d in due], errors=errors)
    if send:
        for d in due:
            report.alerted += await _alert(ctx, d, now)
    return report


def _context(ctx: Ports, d: Deadline) -> dict[str, Any]:
    ledger = ctx.stores.ledger(d.item.customer_id)
    name = ledger.profile.name if ledger and ledger.profile.name else d.item.customer_id
    return {"customer": {"name": name, "tenant_id": d.item.customer_id},
            "subscription": {"id": d.item.entitlement_id or d.item.subscription_id, "name": d.item.name,
                             "plan": d.item.subscription_id if d.item.entitlement_id else ""},
            "deadline_kind": d.kind, "deadline": d.on.isoformat(), "days_left": d.days_left,
            "policy_days": d.policy_days, "new_commerce": d.item.new_commerce,
            "suspended_at": d.item.suspended_at.isoformat(), "reason": d.item.reason,
            "case_id": d.item.case_id or "-", "status": d.item.status}


async def _alert(ctx: Ports, d: Deadline, now: datetime) -> int:
    from shared.notify import Channel, DeliveryError, Notification, TemplateId

    settings = ctx.settings
    hook = settings.team_webhook_url
    note = Notification(idempotency_key=d.key, channel=Channel.WEBHOOK if hook else Channel.EMAIL,
                        recipient="team" if hook else settings.collections_contact,
                        template_id=TemplateId.TEAM_SUSPENSION_DEADLINE, context=_context(ctx, d))
    try:
        ran, _ = await ctx.idempotency.run_once_async("deadline-alert", d.key, lambda: asyncio.to_thread(
            lambda: ctx.notifier.send(note, now=now).model_dump(mode="json")))
    except DeliveryError as exc:  # not recorded as sent: the next run tries again
        log.warning("deadline alert %s not delivered: %s", d.key, exc)
        outcome, ran = "failed", False
    else:
        outcome = "sent" if ran else "duplicate"
    if outcome != "duplicate":
        ctx.audit.record(AuditEntry(customer_id=d.item.customer_id, action="deadline.alert", actor=ACTOR, at=now,
                                    reason=f"{d.kind} on {d.on.isoformat()} for {d.item.name}", outcome=outcome,
                                    evidence={"key": d.key, "days_left": d.days_left}))
    return 1 if ran else 0
