"""Stage triggers: which stage's trigger holds now, and when the next threshold will be crossed. Pure.

The stage is the most severe one whose trigger holds, recomputed from the facts every time, so a partial
payment re-anchors the schedule and can never make the customer skip a stage.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.collections.facts import Facts, fmt_amounts, midnight
from shared.collections.policy import Policy, Trigger


def trigger_holds(trigger: Trigger, facts: Facts) -> bool:
    """``match: all``: every condition the trigger names holds; ``match: any``: at least one does."""
    dpd, over, ratio = facts.days_past_due, facts.over_tolerance, facts.exposure_ratio
    days, minimums, exposure_min = trigger.days_past_due, trigger.min_overdue, trigger.exposure_ratio
    if trigger.match == "all":
        return not (
            (days is not None and (dpd is None or dpd < days))
            or (bool(minimums) and not any(c in over and over[c] >= v for c, v in (minimums or {}).items()))
            or (exposure_min is not None and (ratio is None or ratio < exposure_min))
        )
    return (
        (days is not None and dpd is not None and dpd >= days)
        or (bool(minimums) and any(c in over and over[c] >= v for c, v in (minimums or {}).items()))
        or (exposure_min is not None and ratio is not None and ratio >= exposure_min)
    )


def current_stage(policy: Policy, facts: Facts) -> int | None:
    """Position of the most severe stage whose trigger holds (a harmful one only on a collectable balance)."""
    if facts.days_past_due is None and not facts.over_tolerance and facts.exposure_ratio is None:
        return None  # no trigger can hold
    for i in range(len(policy.stages) - 1, -1, -1):
        stage = policy.stages[i]
        if stage.harmful and not facts.collectable:
            continue
        if trigger_holds(stage.trigger, facts):
            return i
    return None


def describe(trigger: Trigger, facts: Facts) -> str:
    """Why the trigger holds, figure against threshold (the stage reason's text)."""
    parts = []
    if trigger.days_past_due is not None:
        parts.append(f"{facts.days_past_due} days past due (threshold {trigger.days_past_due})")
    if trigger.min_overdue:
        parts.append(f"overdue {fmt_amounts(facts.over_tolerance)} (threshold {fmt_amounts(trigger.min_overdue)})")
    if trigger.exposure_ratio is not None:
        parts.append(f"exposure ratio {facts.exposure_ratio} (threshold {trigger.exposure_ratio})")
    return f" {trigger.match} of ".join(parts) if len(parts) > 1 else parts[0]


def next_crossings(policy: Policy, facts: Facts, stage: int | None) -> list[datetime]:
    """Local midnights at which a day threshold of a later stage is reached, or an invoice falls due."""
    out: list[datetime] = []
    if facts.anchor is not None:
        for later in policy.stages[0 if stage is None else stage + 1:]:
            if later.trigger.days_past_due is not None:
                out.append(midnight(facts.anchor + timedelta(days=later.trigger.days_past_due), policy.tz))
    if facts.next_due is not None:
        out.append(midnight(facts.next_due + timedelta(days=1), policy.tz))
    return out
