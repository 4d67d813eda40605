"""The portfolio at a glance: customers by collections stage (counts and overdue amounts) and the AR ageing of
open invoices per currency (current, 1-30, 31-60, 61-90, 90+ days past due). Amounts stay Decimal; the JSON
carries them as strings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shared.collections import Decision
from shared.collections.ledger import CustomerLedger

if TYPE_CHECKING:
    from shared.ports import Ports

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
NO_STAGE = "none"


def bucket(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


def ageing(ledgers: Iterable[CustomerLedger], today: date) -> dict[str, dict[str, Decimal]]:
    """Open invoice amounts per currency and ageing bucket (every bucket present, zero when empty)."""
    out: dict[str, dict[str, Decimal]] = {}
    for ledger in ledgers:
        for inv in ledger.summary.invoices:
            if inv.open <= 0:
                continue
            row = out.setdefault(inv.currency, dict.fromkeys(BUCKETS, Decimal(0)))
            row[bucket((today - inv.due_date).days)] += inv.open
    return dict(sorted(out.items()))


def by_stage(decisions: Iterable[Decision], stage_order: Sequence[str]) -> list[dict[str, Any]]:
    """One row per stage in policy order (customers without a stage first): count and overdue per currency."""
    counts: dict[str, int] = defaultdict(int)
    overdue: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for d in decisions:
        stage = d.stage or NO_STAGE
        counts[stage] += 1
        for currency, amount in d.snapshot.overdue.items():
            overdue[stage][currency] += Decimal(amount)
    order = [NO_STAGE, *stage_order, *sorted(set(counts) - {NO_STAGE, *stage_order})]
    return [{"stage": s, "customers": counts.get(s, 0),
             "overdue": {c: str(a) for c, a in sorted(overdue[s].items())}} for s in order]


def customer_rows(decisions: Sequence[Decision], names: dict[str, str | None]) -> list[dict[str, Any]]:
    """Customers in arrears first (most days past due), then the rest by id."""
    rows = [{"customer_id": d.customer_id, "name": names.get(d.customer_id), "stage": d.stage,
             "days_past_due": d.snapshot.days_past_due, "overdue": {c: str(a) for c, a in d.snapshot.overdue.items()},
             "pending_approval": bool(d.pending_approval), "blocked_by": [r.code for r in d.blocked_by]}
            for d in decisions]
    return sorted(rows, key=lambda r: (-(r["days_past_due"] or 0), r["customer_id"]))


def portfolio(ctx: Ports, now: datetime | None = None, page: int = 1, page_size: int = 50) -> dict[str, Any]:
    """``GET /api/collections/portfolio`` at ``now`` (default: the app's clock): stages, ageing and a page of
    customers; customers that cannot be evaluated are listed under ``errors``."""
    from shared.clock import utcnow
    from shared.services.policies import policy_set
    from shared.services.previews import portfolio_preview

    now = now or utcnow()
    policy = policy_set(ctx.settings).for_version(None)
    ledgers = list(ctx.stores.ledgers.with_row("ledger"))
    errors: dict[str, str] = {}  # one customer's bad data never hides the portfolio: reported, not raised
    decisions = portfolio_preview(ctx, now, policy, errors=errors, ledgers=ledgers)
    today = now.astimezone(policy.tz).date()
    rows = customer_rows(decisions, {ledger.customer_id: ledger.profile.name for ledger in ledgers})
    start = (page - 1) * page_size
    return {
        "as_of": now.isoformat(), "policy_version": policy.version, "customers": len(decisions),
        "stages": by_stage(decisions, [s.id for s in policy.stages]),
        "buckets": list(BUCKETS),
        "ageing": {c: {b: str(a) for b, a in row.items()} for c, row in ageing(ledgers, today).items()},
        "page": page, "page_size": page_size, "pages": max(1, -(-len(rows) // page_size)),
        "items": rows[start:start + page_size],
        "errors": [{"customer_id": c, "error": e} for c, e in sorted(errors.items())],
    }
