"""Evaluation: (ledger, overrides, policy, calendar, now, notices sent, case) -> Decision. Pure.

The stage is the most severe one whose trigger holds now, recomputed from the inputs every time, and
``next_review_at`` is the earliest instant at which any input-derived threshold is crossed, so a partial
payment re-anchors the schedule and can never make the customer skip a stage. A harmful stage acts only
when every gate passes: overdue undisputed balance above tolerance, no exemption or hold, its notice stage
*sent* within this case at least N days ago, approval when required, and a safe calendar moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from functools import lru_cache
from hashlib import blake2b

from shared.collections._fast import build, replace
from shared.collections.calendar import Calendar
from shared.collections.decision import Action, CollectionsCase, Decision, Reason, SentNotice, Snapshot
from shared.collections.harm import harm_blockers, next_harm_window
from shared.collections.ledger import CustomerLedger
from shared.collections.overrides import NO_OVERRIDES, Block, CustomerOverrides, active_blocks
from shared.collections.policy import (
    NotifyCustomer,
    NotifyTeam,
    Policy,
    PolicyError,
    Stage,
    Trigger,
)
from shared.domain import Money

ZERO = Decimal(0)
INFINITE = Decimal("Infinity")
RENOTIFY_WINDOW = timedelta(
    days=30
)  # outside a case, a stage without a day trigger is not repeated within it


def _r(code: str, text: str) -> Reason:
    return build(Reason, code=code, text=text)


_shared_reasons: dict[tuple[str, str], Reason] = {}


def _rc(code: str, text: str) -> Reason:
    """A reason whose text takes few values (per stage or segment): one shared immutable instance each."""
    found = _shared_reasons.get((code, text))
    if found is None:
        if len(_shared_reasons) >= 4096:
            _shared_reasons.clear()
        found = _shared_reasons[(code, text)] = build(Reason, code=code, text=text)
    return found


@lru_cache(maxsize=4096)
def _midnight_in(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def _midnight(day: date, policy: Policy) -> datetime:
    """Local midnight starting ``day`` (cached: evaluations of one run share a handful of dates)."""
    return _midnight_in(day, policy.tz)


class _Moment:
    """What every evaluation at one (policy, calendar, now) shares, derived once per sweep or batch.

    The sweep and the benchmark pass the same ``now`` object for a whole shard, so the identity check in
    ``_moment`` hits; anything else falls back to a small dict, then to building a fresh one.
    """

    __slots__ = (
        "calendar",
        "case_stamp",
        "days_only",
        "fp_tail",
        "harm",
        "later_days",
        "local",
        "notice_index",
        "notify_specs",
        "now",
        "plans",
        "policy",
        "renotify_since",
        "stage_reasons",
        "stages",
        "today",
        "tol",
    )

    def __init__(self, policy: Policy, calendar: Calendar, now: datetime) -> None:
        self.policy = policy
        self.calendar = calendar
        self.now = now
        self.local = local = now.astimezone(policy.tz)
        self.today = local.date()
        self.stages = policy.stages
        self.plans = policy.plan
        self.tol = policy.tolerance
        # the fingerprint hashes "\x1f".join([ledger digest, policy digest, calendar digest, now, ...])
        self.fp_tail = f"{policy.digest}\x1f{calendar.digest}\x1f{now.isoformat()}"
        self.case_stamp = f"{local:%Y%m%dT%H%M%S}"
        self.renotify_since = now - RENOTIFY_WINDOW
        self.notify_specs = tuple(
            tuple((a.type, a.template) for a in s.actions if isinstance(a, NotifyCustomer | NotifyTeam))
            for s in self.stages
        )
        # days-past-due thresholds of the stages after each position (for next_review_at)
        self.later_days = tuple(
            tuple(s.trigger.days_past_due for s in self.stages[j:] if s.trigger.days_past_due is not None)
            for j in range(len(self.stages) + 1)
        )
        ids = [s.id for s in self.stages]  # a harmful stage's notice stage is validated to exist earlier
        self.notice_index = tuple(ids.index(s.notice_stage or "") if s.harmful else -1 for s in self.stages)
        self.days_only = tuple(
            s.trigger.min_overdue is None and s.trigger.exposure_ratio is None for s in self.stages
        )
        self.stage_reasons: dict[tuple[int, int | None], Reason] = {}
        self.harm: tuple[tuple[Reason, ...], datetime | None] | None = None

    def harm_gate(self) -> tuple[tuple[Reason, ...], datetime | None]:
        """Calendar blockers of a harmful action at this moment and, if blocked, the next window."""
        if self.harm is None:
            blocks = tuple(harm_blockers(self.calendar, self.policy.calendar, self.local))
            window = next_harm_window(self.calendar, self.policy.calendar, self.local) if blocks else None
            self.harm = (blocks, window)
        return self.harm


_last_moment: _Moment | None = None
_moments: dict[tuple[int, int, datetime, object, int], _Moment] = {}


def _moment(policy: Policy, calendar: Calendar, now: datetime) -> _Moment:
    global _last_moment
    m = _last_moment
    if m is not None and m.now is now and m.policy is policy and m.calendar is calendar:
        return m
    key = (id(policy), id(calendar), now, now.tzinfo, now.fold)  # tzinfo and fold: isoformat differs
    m = _moments.get(key)
    if m is None or m.policy is not policy or m.calendar is not calendar:
        if len(_moments) >= 64:
            _moments.clear()
        m = _moments[key] = _Moment(policy, calendar, now)
    _last_moment = m
    return m


def _notifications(specs: tuple[tuple[str, str | None], ...], stage_id: str, key: str, reason: str) -> list[Action]:
    return [
        build(
            Action,
            kind=kind,
            key=f"{key}:{stage_id}:{kind}",
            stage_id=stage_id,
            template=template,
            scope=None,
            reason=reason,
        )
        for kind, template in specs
    ]


def _latest(notices: Iterable[SentNotice], stage_id: str, since: datetime) -> SentNotice | None:
    best = None
    for n in notices:
        if n.stage_id == stage_id and n.sent_at >= since and (best is None or n.sent_at > best.sent_at):
            best = n
    return best


def _open_case(customer_id: str, policy: Policy, now: datetime, stamp: str) -> CollectionsCase:
    return build(
        CollectionsCase,
        case_id=f"{customer_id}/{stamp}",
        customer_id=customer_id,
        policy_version=policy.version,
        opened_at=now,
        closed_at=None,
        suspended_by_stage=None,
        approvals=(),
    )


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
    if case is not None:
        if case.customer_id != cid:
            raise ValueError(f"case {case.case_id} belongs to {case.customer_id}, not {cid}")
        if case.closed_at is not None:
            case = None
        elif case.policy_version != policy.version:
            raise PolicyError(
                f"case {case.case_id} runs under policy {case.policy_version}, got {policy.version}"
            )
    overrides = overrides or NO_OVERRIDES
    m = _moment(policy, calendar, now)
    local = m.local
    today = m.today
    summary = ledger.summary
    tol = m.tol
    # one pass over the open rows (oldest due first): overdue per currency, the anchor, the next due date
    overdue: dict[str, Decimal] = {}
    running: dict[str, Decimal] = {}
    anchor: date | None = None
    next_due: date | None = None
    for due, currency, amount in summary.rows:
        if anchor is None:
            total = running[currency] + amount if currency in running else amount
            running[currency] = total
            if total > tol.get(currency, ZERO):
                anchor = due
        if due >= today:
            if next_due is None:
                next_due = due
            if anchor is not None:
                break
            continue
        overdue[currency] = overdue[currency] + amount if currency in overdue else amount
    if overdue:
        over_tol = {c: a for c, a in overdue.items() if a > tol.get(c, ZERO)}
        collectable = bool(over_tol)
    else:
        over_tol = {}
        collectable = False
    dpd = (today - anchor).days if anchor is not None else None

    limit = ledger.profile.credit_limit
    exposure: Money | None = None
    ratio: Decimal | None = None
    if limit is not None:
        amount = overdue.get(limit.currency, ZERO)
        if unbilled is not None and unbilled.currency == limit.currency:
            amount += unbilled.amount
        exposure = build(Money, amount=amount, currency=limit.currency)
        ratio = amount / limit.amount if limit.amount > 0 else (INFINITE if amount > 0 else ZERO)

    reasons: list[Reason] = []
    blocked: list[Reason] = []
    actions: list[Action] = []
    pending: list[Action] = []
    review: list[datetime] = []

    case_change = None
    if collectable and case is None:
        case = _open_case(cid, policy, now, m.case_stamp)
        case_change = "opened"
        reasons.append(_r("case_opened", f"overdue undisputed balance above tolerance: {_fmt(over_tol)}"))

    stages = m.stages
    target: int | None = None
    plans = m.plans
    if dpd is not None or over_tol or ratio is not None:  # otherwise no trigger can hold
        for i in range(len(plans) - 1, -1, -1):  # most severe first: stop at the first that holds
            days, minimums, exposure_min, match_all, harmful = plans[i]
            if harmful and not collectable:
                continue
            if match_all:  # every trigger present must hold
                ok = not (
                    (days is not None and (dpd is None or dpd < days))
                    or (bool(minimums) and not any(c in over_tol and over_tol[c] >= v for c, v in minimums))
                    or (exposure_min is not None and (ratio is None or ratio < exposure_min))
                )
            else:
                ok = (
                    (days is not None and dpd is not None and dpd >= days)
                    or (bool(minimums) and any(c in over_tol and over_tol[c] >= v for c, v in minimums))
                    or (exposure_min is not None and ratio is not None and ratio >= exposure_min)
                )
            if ok:
                target = i
                break

    exempt: list[Block] = []
    holds: list[Block] = []
    if overrides is not NO_OVERRIDES or ledger.transit_holds:
        blocks, notes = active_blocks(overrides, ledger, today, now)
        reasons.extend(_r("promise_broken", n) for n in notes)
        for b in blocks:
            (exempt if b.kind == "exempt" else holds).append(b)
            review.append(_midnight(b.until + timedelta(days=1), policy))

    harmful_now = target is not None and stages[target].harmful
    suspended_idx = None
    if case is not None and case.suspended_by_stage is not None:
        suspended_idx = next(
            (i for i, s in enumerate(stages) if s.id == case.suspended_by_stage), len(stages)
        )
        if exempt or not harmful_now:
            why = "customer is exempt" if exempt else "the non-payment reason for the suspension has cleared"
            actions.append(
                build(
                    Action,
                    kind="reactivate",
                    key=f"{case.case_id}:reactivate",
                    stage_id=case.suspended_by_stage,
                    template=None,
                    scope=None,
                    reason=why,
                )
            )
            reasons.append(_rc("reactivate", why))
    if case is not None and not collectable and case_change is None:
        case = replace(case, closed_at=now)
        case_change = "closed"
        reasons.append(_rc("case_closed", "no overdue undisputed balance above tolerance remains"))
    open_case = case if case is not None and case.closed_at is None else None

    if target is not None:
        st = stages[target]
        if m.days_only[target]:  # the text depends on the day count alone: one instance per (stage, dpd)
            stage_reason = m.stage_reasons.get((target, dpd))
            if stage_reason is None:
                stage_reason = m.stage_reasons[(target, dpd)] = _r(
                    "stage", f"stage {st.id}: {_describe(st.trigger, dpd, over_tol, ratio)}"
                )
            reasons.append(stage_reason)
        else:
            reasons.append(_r("stage", f"stage {st.id}: {_describe(st.trigger, dpd, over_tol, ratio)}"))
        if exempt:
            blocked.extend(_r("exempt", f"{b.detail} until {b.until}") for b in exempt)
        elif not plans[target][4]:
            key = open_case.case_id if open_case else f"{cid}:{anchor}"
            if open_case is not None:
                since = open_case.opened_at
            elif st.trigger.days_past_due is not None and anchor is not None:
                since = _midnight(anchor + timedelta(days=st.trigger.days_past_due), policy)
            else:
                since = m.renotify_since
            if _latest(notices_sent, st.id, since) is None:
                actions.extend(_notifications(m.notify_specs[target], st.id, key, f"entered stage {st.id}"))
            else:
                reasons.append(_rc("notice_already_sent", f"the {st.id} notice was already sent"))
        else:
            assert open_case is not None  # harmful stages require a collectable balance, hence a case
            _harmful(
                st,
                target,
                open_case,
                suspended_idx,
                holds,
                ledger,
                m,
                notices_sent,
                actions,
                pending,
                blocked,
                reasons,
                review,
            )

    if anchor is not None:
        for n in m.later_days[0 if target is None else target + 1]:
            review.append(_midnight(anchor + timedelta(days=n), policy))
    if next_due is not None:
        review.append(_midnight(next_due + timedelta(days=1), policy))
    if review:
        future = [t for t in review if t > local]  # compare in one zone: cheaper than mixed-zone compares
        next_review = min(future) if future else None
    else:
        next_review = None

    snapshot = build(
        Snapshot,
        local_date=today,
        overdue=overdue,
        disputed=summary.disputed,
        unallocated=summary.unallocated,
        oldest_unpaid_due=anchor,
        days_past_due=dpd,
        credit_limit=limit,
        unbilled=unbilled,
        exposure=exposure,
        exposure_ratio=ratio,
        ledger_digest=summary.digest,
    )
    return build(
        Decision,
        customer_id=cid,
        evaluated_at=now,
        policy_version=policy.version,
        stage=None if target is None else stages[target].id,
        severity=0 if target is None else target + 1,
        actions=tuple(actions),
        pending_approval=tuple(pending),
        blocked_by=tuple(blocked),
        reasons=tuple(reasons),
        next_review_at=next_review,
        case=case,
        case_change=case_change,
        snapshot=snapshot,
        fingerprint=_fingerprint(summary.digest, m.fp_tail, overrides, notices_sent, case_in, unbilled),
    )


def _harmful(
    st: Stage,
    idx: int,
    case: CollectionsCase,
    suspended_idx: int | None,
    holds: list[Block],
    ledger: CustomerLedger,
    m: _Moment,
    notices: Sequence[SentNotice],
    actions: list[Action],
    pending: list[Action],
    blocked: list[Reason],
    reasons: list[Reason],
    review: list[datetime],
) -> None:
    """Gates of a suspending stage; appends to the caller's lists."""
    if suspended_idx is not None and suspended_idx >= idx:
        reasons.append(_rc("already_suspended", f"already suspended by stage {case.suspended_by_stage}"))
        return
    ok = True
    notice_idx = m.notice_index[idx]
    notice_stage = m.stages[notice_idx]
    sent = _latest(notices, notice_stage.id, case.opened_at)
    if sent is None:
        ok = False
        blocked.append(_rc("notice_not_sent", f"the {notice_stage.id} notice has not been sent in this case"))
        specs = m.notify_specs[notice_idx]
        actions.extend(_notifications(specs, notice_stage.id, case.case_id, f"required notice before {st.id}"))
    else:
        ready = sent.sent_at + timedelta(days=st.requires_notice_days)
        if ready > m.now:
            ok = False
            blocked.append(
                _r(
                    "notice_too_recent",
                    f"the {notice_stage.id} notice was sent {sent.sent_at:%Y-%m-%d %H:%M}; {st.id} needs "
                    f"{st.requires_notice_days} days' notice, so not before {ready:%Y-%m-%d %H:%M}",
                )
            )
            review.append(ready)
    for h in holds:
        ok = False
        blocked.append(_r(h.kind, f"{h.detail} until {h.until}"))
    suspend = st.suspend
    assert suspend is not None
    action = build(
        Action,
        kind="suspend",
        key=f"{case.case_id}:{st.id}:suspend",
        stage_id=st.id,
        template=None,
        scope=suspend.scope,
        reason=f"stage {st.id}",
    )
    if st.approval_required(ledger.profile.segment) and not any(a.stage_id == st.id for a in case.approvals):
        ok = False
        pending.append(action)
        blocked.append(
            _rc("approval_required", f"stage {st.id} needs approval for {ledger.profile.segment} customers")
        )
    cal_blocks, window = m.harm_gate()
    if cal_blocks:
        ok = False
        blocked.extend(cal_blocks)
        if window is not None:
            review.append(window)
    if ok:
        actions.append(action)
        actions.extend(_notifications(m.notify_specs[idx], st.id, case.case_id, f"suspended by stage {st.id}"))


def _fmt(amounts: dict[str, Decimal]) -> str:
    return ", ".join(f"{a} {c}" for c, a in sorted(amounts.items())) or "none"


def _describe(t: Trigger, dpd: int | None, over_tol: dict[str, Decimal], ratio: Decimal | None) -> str:
    parts = []
    if t.days_past_due is not None:
        parts.append(f"{dpd} days past due (threshold {t.days_past_due})")
    if t.min_overdue:
        parts.append(f"overdue {_fmt(over_tol)} (threshold {_fmt(t.min_overdue)})")
    if t.exposure_ratio is not None:
        parts.append(f"exposure ratio {ratio} (threshold {t.exposure_ratio})")
    return f" {t.match} of ".join(parts) if len(parts) > 1 else parts[0]


def _fingerprint(
    ledger_digest: str,
    fp_tail: str,
    overrides: CustomerOverrides,
    notices: Sequence[SentNotice],
    case: CollectionsCase | None,
    unbilled: Money | None,
) -> str:
    # The ledger digest covers every event applied, hence the profile and balances too; ``fp_tail`` holds
    # the policy digest, calendar digest and ``now`` (see _Moment), so the hashed bytes are unchanged.
    parts = [ledger_digest, fp_tail]
    if overrides is not NO_OVERRIDES:
        parts.append(overrides.model_dump_json())
    for n in notices:
        parts.append(f"{n.stage_id}@{n.sent_at.timestamp()!r}")
    if case is not None:
        parts.append(f"{case.case_id}|{case.suspended_by_stage}|{case.approvals}")
    if unbilled is not None:
        parts.append(str(unbilled))
    return blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()
