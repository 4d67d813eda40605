"""Gates between a stage's trigger and its actions: exemptions and holds, notice sent N days ago, approval,
the calendar's harm window. Pure; each gate returns what it found instead of appending to its caller's lists.

A harmful stage acts only when every gate passes: no exemption or hold, its notice stage *sent* within this
case at least N days ago, approval when required, and a safe calendar moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from shared.collections._fast import build
from shared.collections.calendar import Calendar
from shared.collections.decision import Action, CollectionsCase, Reason, SentNotice
from shared.collections.facts import midnight
from shared.collections.harm import harm_blockers, next_harm_window
from shared.collections.keys import ActionKey
from shared.collections.ledger import CustomerLedger
from shared.collections.overrides import NO_OVERRIDES, Block, CustomerOverrides, active_blocks
from shared.collections.policy import CalendarRules, NotifyCustomer, NotifyTeam, Policy, Stage


def reason(code: str, text: str) -> Reason:
    return build(Reason, code=code, text=text)


class Gated(NamedTuple):
    """What the gates of one stage let through, held back and why."""

    actions: tuple[Action, ...] = ()
    pending: tuple[Action, ...] = ()  # waiting for a person's approval
    blocked: tuple[Reason, ...] = ()
    reasons: tuple[Reason, ...] = ()
    review: tuple[datetime, ...] = ()  # when a gate may open by itself


class Blocks(NamedTuple):
    """The customer's overrides in force today: exemptions stop every action, holds stop harm."""

    exempt: tuple[Block, ...] = ()
    holds: tuple[Block, ...] = ()
    notes: tuple[Reason, ...] = ()  # promises broken
    review: tuple[datetime, ...] = ()  # the day after each block ends


NOTHING = Gated()
UNBLOCKED = Blocks()


def override_blocks(overrides: CustomerOverrides, ledger: CustomerLedger, policy: Policy, now: datetime) -> Blocks:
    if overrides is NO_OVERRIDES and not ledger.transit_holds:
        return UNBLOCKED
    blocks, notes = active_blocks(overrides, ledger, now.astimezone(policy.tz).date(), now)
    return Blocks(exempt=tuple(b for b in blocks if b.kind == "exempt"),
                  holds=tuple(b for b in blocks if b.kind != "exempt"),
                  notes=tuple(reason("promise_broken", n) for n in notes),
                  review=tuple(midnight(b.until + timedelta(days=1), policy.tz) for b in blocks))


def notifications(stage: Stage, customer_id: str, why: str, *, case_id: str | None = None,
                  anchor: object = None) -> tuple[Action, ...]:
    """The stage's customer and team notices, within a case or (outside one) counted from ``anchor``."""
    return tuple(
        build(Action, kind=a.type, key=str(ActionKey.for_stage(a.type, customer_id, stage.id, case_id=case_id,
                                                             anchor=anchor)),
              stage_id=stage.id, template=a.template, scope=None, reason=why)
        for a in stage.actions if isinstance(a, NotifyCustomer | NotifyTeam)
    )


def latest_notice(notices: Iterable[SentNotice], stage_id: str, since: datetime) -> SentNotice | None:
    """The last delivery of ``stage_id``'s notice at or after ``since``."""
    best = None
    for n in notices:
        if n.stage_id == stage_id and n.sent_at >= since and (best is None or n.sent_at > best.sent_at):
            best = n
    return best


def notice_gate(stage: Stage, customer_id: str, case_id: str | None, anchor: object, since: datetime,
                notices: Sequence[SentNotice]) -> Gated:
    """A stage that does no harm sends its notices once per case (or per anchor and stage outside one)."""
    if latest_notice(notices, stage.id, since) is None:
        return Gated(actions=notifications(stage, customer_id, f"entered stage {stage.id}", case_id=case_id,
                                           anchor=anchor))
    return Gated(reasons=(reason("notice_already_sent", f"the {stage.id} notice was already sent"),))


def calendar_gate(calendar: Calendar, policy: Policy, now: datetime) -> tuple[tuple[Reason, ...], datetime | None]:
    """Calendar blockers of a harmful action at ``now`` and, if blocked, the next window."""
    return _calendar_gate(calendar, policy.calendar, now.astimezone(policy.tz))


@lru_cache(maxsize=256)  # a sweep evaluates every customer at one instant: the answer is the same for all
def _calendar_gate(calendar: Calendar, rules: CalendarRules,
                   local: datetime) -> tuple[tuple[Reason, ...], datetime | None]:
    blocks = tuple(harm_blockers(calendar, rules, local))
    return blocks, (next_harm_window(calendar, rules, local) if blocks else None)


def harm_gate(policy: Policy, position: int, case: CollectionsCase, ledger: CustomerLedger, calendar: Calendar,
              now: datetime, notices: Sequence[SentNotice], holds: Sequence[Block]) -> Gated:
    """Every gate of a suspending stage: notice, holds, approval, calendar. The suspension and the stage's
    notices are actions only if all pass; the missing notice is sent meanwhile."""
    stage = policy.stages[position]
    suspended = case.suspended_by_stage
    if suspended is not None:
        at = next((i for i, s in enumerate(policy.stages) if s.id == suspended), len(policy.stages))
        if at >= position:
            return Gated(reasons=(reason("already_suspended", f"already suspended by stage {suspended}"),))
    actions: list[Action] = []
    blocked: list[Reason] = []
    review: list[datetime] = []
    notice_stage = policy.stage(stage.notice_stage or "")  # validated to exist earlier in the policy
    sent = latest_notice(notices, notice_stage.id, case.opened_at)
    if sent is None:
        blocked.append(reason("notice_not_sent", f"the {notice_stage.id} notice has not been sent in this case"))
        actions.extend(notifications(notice_stage, case.customer_id, f"required notice before {stage.id}",
                                     case_id=case.case_id))
    else:
        ready = sent.sent_at + timedelta(days=stage.requires_notice_days)
        if ready > now:
            blocked.append(reason(
                "notice_too_recent",
                f"the {notice_stage.id} notice was sent {sent.sent_at:%Y-%m-%d %H:%M}; {stage.id} needs "
                f"{stage.requires_notice_days} days' notice, so not before {ready:%Y-%m-%d %H:%M}"))
            review.append(ready)
    blocked.extend(reason(h.kind, f"{h.detail} until {h.until}") for h in holds)
    suspend = stage.suspend
    assert suspend is not None
    key = ActionKey.for_stage("suspend", case.customer_id, stage.id, case_id=case.case_id)
    action = build(Action, kind="suspend", key=str(key), stage_id=stage.id, template=None, scope=suspend.scope,
                   reason=f"stage {stage.id}")
    pending: tuple[Action, ...] = ()
    segment = ledger.profile.segment
    if stage.approval_required(segment) and not any(a.stage_id == stage.id for a in case.approvals):
        pending = (action,)
        blocked.append(reason("approval_required", f"stage {stage.id} needs approval for {segment} customers"))
    cal_blocks, window = calendar_gate(calendar, policy, now)
    blocked.extend(cal_blocks)
    if window is not None:
        review.append(window)
    if not blocked:
        actions.append(action)
        actions.extend(notifications(stage, case.customer_id, f"suspended by stage {stage.id}", case_id=case.case_id))
    return Gated(actions=tuple(actions), pending=pending, blocked=tuple(blocked), review=tuple(review))
