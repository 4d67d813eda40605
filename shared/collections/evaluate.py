"""Evaluation: (ledger, overrides, policy, calendar, now, notices sent, case) -> Decision. Pure.

Composes the facts (ledger figures), the triggers (which stage holds, when the next threshold is crossed)
and the gates (holds, notice, approval, calendar). ``next_review_at`` is the earliest instant at which any
input-derived threshold is crossed or a gate may open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from hashlib import blake2b
from zoneinfo import ZoneInfo

from shared.collections._fast import build, replace
from shared.collections.calendar import Calendar
from shared.collections.decision import Action, CollectionsCase, Decision, Reason, SentNotice, Snapshot
from shared.collections.due import lift_reason
from shared.collections.facts import Facts, fmt_amounts, ledger_facts, midnight
from shared.collections.gates import NOTHING, Blocks, Gated, harm_gate, notice_gate, override_blocks, reason
from shared.collections.keys import ActionKey
from shared.collections.ledger import CustomerLedger
from shared.collections.overrides import NO_OVERRIDES, CustomerOverrides
from shared.collections.policy import Policy, PolicyError
from shared.collections.triggers import current_stage, describe, next_crossings
from shared.domain import Money

RENOTIFY_WINDOW = timedelta(days=30)  # outside a case, a stage without a day trigger is not repeated within it


def _current_case(case: CollectionsCase | None, customer_id: str, policy: Policy) -> CollectionsCase | None:
    """The open case the evaluation continues (a closed one is history); a foreign or mis-versioned one is refused."""
    if case is None:
        return None
    if case.customer_id != customer_id:
        raise ValueError(f"case {case.case_id} belongs to {case.customer_id}, not {customer_id}")
    if case.closed_at is not None:
        return None
    if case.policy_version != policy.version:
        raise PolicyError(f"case {case.case_id} runs under policy {case.policy_version}, got {policy.version}")
    return case


def _reactivation(case: CollectionsCase | None, exempt: bool, harmful_now: bool) -> tuple[Action, Reason] | None:
    """Lift csp-guard's suspension once the customer is exempt or no harmful stage applies any more."""
    why = lift_reason(case, exempt, harmful_now)
    if case is None or why is None:
        return None
    key = ActionKey.reactivation(case.customer_id, case_id=case.case_id)
    action = build(Action, kind="reactivate", key=str(key), stage_id=case.suspended_by_stage, template=None,
                   scope=None, reason=why)
    return action, reason("reactivate", why)


def _stage_gates(policy: Policy, position: int, facts: Facts, blocks: Blocks, case: CollectionsCase | None,
                 ledger: CustomerLedger, calendar: Calendar, now: datetime,
                 notices: Sequence[SentNotice]) -> Gated:
    stage = policy.stages[position]
    if blocks.exempt:
        return Gated(blocked=tuple(reason("exempt", f"{b.detail} until {b.until}") for b in blocks.exempt))
    if stage.harmful:
        assert case is not None  # harmful stages require a collectable balance, hence a case
        return harm_gate(policy, position, case, ledger, calendar, now, notices, blocks.holds)
    if case is not None:
        since = case.opened_at
    elif stage.trigger.days_past_due is not None and facts.anchor is not None:
        since = midnight(facts.anchor + timedelta(days=stage.trigger.days_past_due), policy.tz)
    else:
        since = now - RENOTIFY_WINDOW
    return notice_gate(stage, ledger.customer_id, case.case_id if case else None, facts.anchor, since, notices)


def evaluate(
    ledger: CustomerLedger,
    overrides: CustomerOverrides | None,
    policy: Policy,
    calendar: Calendar,
    now: datetime,
    notices_sent: Sequence[SentNotice] = (),
    case: CollectionsCase | None = None,
    *,
    unbilled: Money | None = None,
) -> Decision:
    """Decide what collections should do for one customer at ``now`` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    cid = ledger.customer_id
    case_in = case
    case = _current_case(case, cid, policy)
    overrides = overrides or NO_OVERRIDES
    local, stamp = _instant(now, now.tzinfo, now.fold, policy.tz)
    facts = ledger_facts(ledger, policy.tolerance, local.date(), unbilled)
    reasons: list[Reason] = []
    case_change = None
    if facts.collectable and case is None:
        case = build(CollectionsCase, case_id=f"{cid}/{local:%Y%m%dT%H%M%S}", customer_id=cid,
                     policy_version=policy.version, opened_at=now, closed_at=None, suspended_by_stage=None,
                     approvals=())
        case_change = "opened"
        reasons.append(reason("case_opened",
                              f"overdue undisputed balance above tolerance: {fmt_amounts(facts.over_tolerance)}"))
    target = current_stage(policy, facts)
    blocks = override_blocks(overrides, ledger, policy, now)
    reasons.extend(blocks.notes)
    actions: list[Action] = []
    lift = _reactivation(case, bool(blocks.exempt), target is not None and policy.stages[target].harmful)
    if lift is not None:
        actions.append(lift[0])
        reasons.append(lift[1])
    if case is not None and not facts.collectable and case_change is None:
        case = replace(case, closed_at=now)
        case_change = "closed"
        reasons.append(reason("case_closed", "no overdue undisputed balance above tolerance remains"))
    open_case = case if case is not None and case.closed_at is None else None
    gated = NOTHING
    if target is not None:
        stage = policy.stages[target]
        reasons.append(reason("stage", f"stage {stage.id}: {describe(stage.trigger, facts)}"))
        gated = _stage_gates(policy, target, facts, blocks, open_case, ledger, calendar, now, notices_sent)
    actions.extend(gated.actions)
    reasons.extend(gated.reasons)
    future = [t for t in (*blocks.review, *gated.review, *next_crossings(policy, facts, target)) if t > local]
    return build(
        Decision,
        customer_id=cid,
        evaluated_at=now,
        policy_version=policy.version,
        stage=None if target is None else policy.stages[target].id,
        severity=0 if target is None else target + 1,
        actions=tuple(actions),
        pending_approval=gated.pending,
        blocked_by=gated.blocked,
        reasons=tuple(reasons),
        next_review_at=min(future) if future else None,
        case=case,
        case_change=case_change,
        snapshot=_snapshot(ledger, facts, unbilled),
        fingerprint=fingerprint(ledger, policy, calendar, stamp, overrides, notices_sent, case_in, unbilled),
    )


def _snapshot(ledger: CustomerLedger, facts: Facts, unbilled: Money | None) -> Snapshot:
    summary = ledger.summary
    return build(Snapshot, local_date=facts.today, overdue=facts.overdue, disputed=summary.disputed,
                 unallocated=summary.unallocated, oldest_unpaid_due=facts.anchor, days_past_due=facts.days_past_due,
                 credit_limit=facts.credit_limit, unbilled=unbilled, exposure=facts.exposure,
                 exposure_ratio=facts.exposure_ratio, ledger_digest=summary.digest)


@lru_cache(maxsize=64)  # a sweep evaluates every customer of a shard at one instant
def _instant(now: datetime, zone: tzinfo | None, fold: int, tz: ZoneInfo) -> tuple[datetime, str]:
    """``now`` in the policy's zone and as the fingerprint's ISO stamp. ``zone`` and ``fold`` are part of the
    key because equal datetimes can print differently (another zone; a repeated wall-clock hour)."""
    return now.astimezone(tz), now.isoformat()


def fingerprint(ledger: CustomerLedger, policy: Policy, calendar: Calendar, stamp: str,
                overrides: CustomerOverrides, notices: Sequence[SentNotice], case: CollectionsCase | None,
                unbilled: Money | None) -> str:
    """Identifies every input of one evaluation. The ledger digest covers every event applied, hence the
    profile and balances too; the policy and calendar are named by their content digests, ``stamp`` is the
    evaluation instant in ISO form."""
    parts = [ledger.summary.digest, policy.digest, calendar.digest, stamp]
    if overrides is not NO_OVERRIDES:
        parts.append(overrides.model_dump_json())
    for n in notices:
        parts.append(f"{n.stage_id}@{n.sent_at.timestamp()!r}")
    if case is not None:
        parts.append(f"{case.case_id}|{case.suspended_by_stage}|{case.approvals}")
    if unbilled is not None:
        parts.append(str(unbilled))
    return blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()
