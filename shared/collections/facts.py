"""The ledger figures the rules read: overdue balances, days past due, credit exposure. Pure.

Everything here depends on the ledger, the policy's tolerances and the customer's local day only, so the
same figures feed the triggers, the gates and the decision's snapshot.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from shared.collections._fast import build
from shared.collections.ledger import CustomerLedger
from shared.domain import Money

ZERO = Decimal(0)
INFINITE = Decimal("Infinity")


class Facts(NamedTuple):
    """What the rules know about one customer on one local day (a tuple: built once per evaluation)."""

    today: date
    overdue: dict[str, Decimal]  # undisputed balance past due, per currency
    over_tolerance: dict[str, Decimal]  # the part of ``overdue`` above the policy's tolerance
    anchor: date | None  # due date of the oldest unpaid amount that takes the balance above tolerance
    next_due: date | None  # the first due date on or after today
    days_past_due: int | None
    credit_limit: Money | None
    exposure: Money | None  # overdue plus unbilled usage, in the credit limit's currency
    exposure_ratio: Decimal | None

    @property
    def collectable(self) -> bool:
        """An overdue undisputed balance above tolerance: what opens a case and allows harm."""
        return bool(self.over_tolerance)


@lru_cache(maxsize=4096)
def midnight(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight starting ``day`` (evaluations of one run share a handful of dates)."""
    return datetime.combine(day, time(0), tzinfo=tz)


def ledger_facts(ledger: CustomerLedger, tolerance: dict[str, Decimal], today: date,
                 unbilled: Money | None) -> Facts:
    """One pass over the open rows (oldest due first): overdue per currency, the anchor, the next due date."""
    overdue: dict[str, Decimal] = {}
    running: dict[str, Decimal] = {}
    anchor: date | None = None
    next_due: date | None = None
    for due, currency, amount in ledger.summary.rows:
        if anchor is None:
            total = running[currency] + amount if currency in running else amount
            running[currency] = total
            if total > tolerance.get(currency, ZERO):
                anchor = due
        if due >= today:
            if next_due is None:
                next_due = due
            if anchor is not None:
                break
            continue
        overdue[currency] = overdue[currency] + amount if currency in overdue else amount
    over_tol = {c: a for c, a in overdue.items() if a > tolerance.get(c, ZERO)}
    limit = ledger.profile.credit_limit
    exposure: Money | None = None
    ratio: Decimal | None = None
    if limit is not None:
        owed = overdue.get(limit.currency, ZERO)
        if unbilled is not None and unbilled.currency == limit.currency:
            owed += unbilled.amount
        exposure = build(Money, amount=owed, currency=limit.currency)
        ratio = owed / limit.amount if limit.amount > 0 else (INFINITE if owed > 0 else ZERO)
    return Facts(today=today, overdue=overdue, over_tolerance=over_tol, anchor=anchor, next_due=next_due,
                 days_past_due=(today - anchor).days if anchor is not None else None, credit_limit=limit,
                 exposure=exposure, exposure_ratio=ratio)


def fmt_amounts(amounts: dict[str, Decimal]) -> str:
    """``"120.00 CNY, 5 USD"`` (sorted by currency), or ``"none"``."""
    return ", ".join(f"{a} {c}" for c, a in sorted(amounts.items())) or "none"
