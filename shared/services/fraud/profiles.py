"""What detection knows about a customer besides usage: the collections ledger (segment, credit limit, unpaid
balance, the declared baseline from ``customer.updated``) and Partner Center's subscription creation dates."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from shared.fraud import CustomerProfile, Rules, SpendNotice
from shared.services.fraud.store import StoredHistory

if TYPE_CHECKING:
    from shared.collections.ledger import CustomerLedger
    from shared.ports import Ports

log = logging.getLogger("cspguard.fraud.profiles")
YOUNG_HISTORY_DAYS = 28
"""Creation dates matter only while a customer's usage history is shorter than every rule's minimum (at most
14 days in the shipped rules, 28 for peers): older histories never cost a Partner Center call."""


def _unpaid(ledger: CustomerLedger, currency: str) -> Decimal:
    """Undisputed open invoice amounts in the customer's currency (what it already owes)."""
    return sum((i.open - i.disputed for i in ledger.summary.invoices if i.currency == currency and i.open > 0),
               start=Decimal(0))


def profile_for(ctx: Ports, customer_id: str, rules: Rules,
                created: Mapping[str, date] | None = None) -> CustomerProfile | None:
    """The engine's profile from the ledger and the stored creation dates (None when neither is known).

    A tenant unknown to the CRM (no ledger) still gets a profile when Partner Center's creation dates are
    known, so onboarding-aware rules see it as new from its first usage day.
    """
    ledger = ctx.stores.ledger(customer_id)
    created = dict(created or {})
    pc_onboarded = min(created.values()) if created else None
    if ledger is None:
        if pc_onboarded is None:
            return None
        return CustomerProfile(customer_id=customer_id, segment=None, onboarded_at=pc_onboarded,
                               subscriptions_created=created)
    p = ledger.profile
    currency = p.credit_limit.currency if p.credit_limit else (
        p.expected_monthly_spend.currency if p.expected_monthly_spend else "CNY")
    notices = tuple(SpendNotice(valid_from=c.starts_on, valid_to=c.ends_on, expected_factor=c.expected_factor,
                                expected_daily_spend=c.expected_daily_spend, regions=c.regions, note=c.note or "")
                    for c in p.planned_changes)
    return CustomerProfile(
        customer_id=customer_id, name=p.name or "", segment=p.segment or rules.default_segment,
        onboarded_at=p.onboarded_on or pc_onboarded, subscriptions_created=created,
        declared_monthly_spend=p.expected_monthly_spend.amount if p.expected_monthly_spend else None,
        credit_limit=p.credit_limit.amount if p.credit_limit else None,
        prepayment=p.prepayment.amount if p.prepayment else None,
        outstanding_balance=_unpaid(ledger, currency), currency=currency, notices=notices)


async def with_creation_dates(ctx: Ports, doc: StoredHistory,
                              now: datetime) -> StoredHistory:
    """Partner Center's ``creationDate`` of the customer's subscriptions, read once per new subscription.

    Partner Center's customer resource has no creation date: the earliest subscription's is the tenant's
    onboarding date. Only customers with a young usage history are looked up. A failed read is logged and
    retried on the next scan; detection goes on without it.
    """
    fs = ctx.fraud
    days = doc.series.floats[0]
    if days and (now.date() - days[0]).days > YOUNG_HISTORY_DAYS:
        return doc
    plans = {plan.lower() for plan, _ in doc.series.owners.values()}
    known = {k.lower() for k in doc.subscriptions_created}
    if plans <= known or (doc.created_checked_on == now.date() and doc.created_checked_for >= len(plans)):
        return doc
    try:
        subs = await ctx.partner_center().list_subscriptions(doc.customer_id)
    except Exception as exc:
        log.warning("creation dates of %s not read: %s: %s", doc.customer_id, type(exc).__name__, exc)
        return doc
    created: dict[str, date] = {s.id.lower(): s.creation_date.date() for s in subs if s.creation_date}

    def change(cur: StoredHistory | None) -> StoredHistory | None:
        if cur is None:
            return None
        return cur.model_copy(update={"subscriptions_created": {**cur.subscriptions_created, **created},
                                      "created_checked_on": now.date(), "created_checked_for": len(plans)})

    return fs.history.update(doc.customer_id, "history", change) or doc
