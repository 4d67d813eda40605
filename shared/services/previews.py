"""Dry runs for operators: what a sweep would decide now for every customer, and how a policy change would
change those decisions. Nothing is stored or sent."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.clock import utcnow
from shared.collections import Decision, Policy, diff_decisions, preview
from shared.collections.ledger import CustomerLedger
from shared.collections.preview import DecisionChange
from shared.services.errors import EvaluationError, InvalidRequest
from shared.services.forecast import portfolio_inputs, preview_guards, preview_moment
from shared.services.policies import calendar, policy_set

if TYPE_CHECKING:
    from shared.ports import Ports


def portfolio_preview(ctx: Ports, now: datetime | None = None, policy: Policy | None = None,
                      errors: dict[str, str] | None = None,
                      ledgers: list[CustomerLedger] | None = None) -> list[Decision]:
    """What a sweep would decide now (or at ``now``) for every customer; nothing is stored or sent. With
    ``errors``, customers that cannot be evaluated are reported there instead of failing the whole preview.
    ``ledgers``: already loaded (the portfolio view reads them once for both the preview and the ageing)."""
    now = now or utcnow()
    policy = policy or policy_set(ctx.settings).for_version(None)
    i = portfolio_inputs(ctx.stores, ledgers)
    return preview(i.ledgers, policy, calendar(ctx.settings, policy), now, overrides=i.overrides, notices=i.notices,
                   cases=i.cases, unbilled=i.unbilled, errors=errors)


def sweep_preview(ctx: Ports, at: str | None = None) -> dict[str, Any]:
    """``GET /api/collections/preview``: what a sweep would do now, or at ``at`` (``YYYY-MM-DD``: that day's sweep at
    the sweep's time of day; or an ISO time), per customer with a stage, action or pending approval, the customers
    that cannot be evaluated, and the guards the sweep would apply. InvalidRequest for an ``at`` out of bounds."""
    try:
        moment = preview_moment(ctx, at)
    except ValueError as exc:
        raise InvalidRequest(f"at must be YYYY-MM-DD or an ISO timestamp in the accepted window: {exc}") from None
    errors: dict[str, str] = {}
    decisions = portfolio_preview(ctx, moment, errors=errors)
    rows = [decision_row(d) for d in decisions if d.stage or d.actions or d.pending_approval]
    failed = [{"customer_id": c, "error": e} for c, e in sorted(errors.items())]
    return {"at": moment.isoformat() if moment else None, "customers": len(decisions) + len(errors),
            "items": rows, "errors": failed, "guards": preview_guards(ctx, decisions, moment or utcnow())}


def policy_diff(ctx: Ports, old: Policy, new: Policy, now: datetime | None = None,
                errors: dict[str, str] | None = None) -> list[DecisionChange]:
    """Decision changes from ``old`` to ``new``; with ``errors``, customers that cannot be evaluated under
    either are reported there and left out of the diff."""
    now = now or utcnow()
    failed: dict[str, str] = {}
    before, after = portfolio_preview(ctx, now, old, errors=failed), portfolio_preview(ctx, now, new, errors=failed)
    if failed and errors is None:
        raise EvaluationError(next(iter(failed)), ValueError(next(iter(failed.values()))))
    if errors is not None:
        errors.update(failed)
    return diff_decisions([d for d in before if d.customer_id not in failed],
                          [d for d in after if d.customer_id not in failed])


def decision_row(d: Decision) -> dict[str, Any]:
    """One line of a preview table."""
    return {"customer_id": d.customer_id, "stage": d.stage, "actions": [f"{a.kind}:{a.stage_id}" for a in d.actions],
            "pending_approval": [a.stage_id for a in d.pending_approval],
            "blocked_by": [r.code for r in d.blocked_by], "overdue": {c: str(a) for c, a in d.snapshot.overdue.items()},
            "days_past_due": d.snapshot.days_past_due,
            "next_review_at": d.next_review_at.isoformat() if d.next_review_at else None,
            "explanation": "; ".join(r.text for r in (*d.reasons, *d.blocked_by))}
