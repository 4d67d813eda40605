"""The enforcement worker's last look before acting: reasons not to act now, on fresh data.

A non-payment suspension needs a fresh payment feed, no kept message naming the customer and a fresh
evaluation that still asks for it (``still_due``); a fraud action needs its case open; a reactivation waits
while fraud containment holds or a suspension stage applies again; a disabled switch makes a dry run.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from shared.collections.due import still_due
from shared.collections.keys import ActionKey
from shared.domain.trace import DecisionTrace
from shared.services.collections import decide
from shared.services.enforcement_steps import TargetState
from shared.services.messages import EnforcementRequest
from shared.services.payments import feed_age_hours

if TYPE_CHECKING:
    from shared.ports import Ports


class Outcome(BaseModel):
    """What one enforcement request did (returned, audited, and shown to operators)."""

    key: str
    status: Literal["done", "partial", "failed", "skipped", "blocked", "dry_run", "duplicate"]
    detail: str
    changed: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)
    lifted_nonpayment: bool = False
    targets: list[TargetState] = Field(default_factory=list)  # what Partner Center showed for each, at the end
    decision: DecisionTrace | None = None  # the fresh decision when the re-check decided (skipped on fresh data)


def precheck(ctx: Ports, req: EnforcementRequest, now: datetime) -> Outcome | None:
    """Reasons not to act now, or None. Non-payment suspensions need fresh data and a still-due decision."""
    stores = ctx.stores
    settings = ctx.settings
    if req.action == "suspend" and req.reason == "nonpayment":
        age = feed_age_hours(stores, now)
        if age is None or age > settings.payment_feed_max_silence_hours:
            seen = "never received" if age is None else f"silent for {age:.1f} h"
            return Outcome(key=req.key, status="blocked",
                           detail=f"payment feed {seen} (limit {settings.payment_feed_max_silence_hours} h): "
                                  "not suspending on stale data")
        from shared.services.deadletters import blocking

        parked = blocking(ctx, req.customer_id)  # poison queues drained first: every kept message counts
        if parked:
            where = ", ".join(sorted({f"{d.queue} ({d.origin.value})" for d in parked}))
            return Outcome(key=req.key, status="blocked",
                           detail=f"{len(parked)} message(s) naming this customer could not be processed and wait in "
                                  f"the dead-letter store ({where}): not suspending until an operator replays or "
                                  "discards them")
        try:
            key = ActionKey.parse(req.key)
        except ValueError:
            key = None
        if key is None or key.kind != "suspend":  # only a policy stage's suspension is a non-payment suspension
            return Outcome(key=req.key, status="skipped", detail=f"{req.key!r} names no collections suspension")
        fresh = decide(stores, settings, req.customer_id, now)
        due = still_due(fresh, key)
        if not due:  # audited with the fresh decision that says so, not the one that asked
            return Outcome(key=req.key, status="skipped", detail=f"no longer due on fresh data: {due.reason}",
                           decision=fresh.trace if fresh is not None else None)
    if req.reason == "fraud" or (req.action == "reactivate" and req.reason == "nonpayment"):

        fraud = ctx.fraud.current(req.customer_id)
        open_case = fraud is not None and fraud.case.is_open
        if req.action == "suspend" and (not open_case or fraud is None or fraud.case.case_id != req.case_id):
            return Outcome(key=req.key, status="skipped", detail=f"fraud case {req.case_id} is no longer open")
        if req.reason == "nonpayment" and open_case and fraud is not None and fraud.containment_keys:
            return Outcome(key=req.key, status="skipped",
                           detail=f"fraud case {fraud.case.case_id} is open with containment: no reactivation "
                                  "until it is resolved")
    if req.action == "reactivate" and req.reason == "nonpayment" and req.actor.startswith("csp-guard"):
        fresh = decide(stores, settings, req.customer_id, now)
        due = still_due(fresh, ActionKey.reactivation(req.customer_id))
        if not due:
            return Outcome(key=req.key, status="skipped", detail=due.reason,
                           decision=fresh.trace if fresh is not None else None)
    if not settings.enforcement_enabled:
        return Outcome(key=req.key, status="dry_run",
                       detail=f"would {req.action} ({req.detail}); CSPGUARD_ENFORCEMENT_ENABLED is false")
    return None
