"""Forecast: the next N sweeps, simulated from today's data. Pure (no storage, no clock).

Each sweep moment evaluates the customers whose inputs may have changed: everyone at the first moment, then
only those whose ``next_review_at`` has come, or whose simulated state moved (a notice predicted, a
suspension predicted or refused). Between two moments nothing else changes, so this gives the same
decisions as evaluating everyone every day, at about the cost of one preview.

Assumptions (the forecast states them with its result):
- no payment, dispute, promise or operator action arrives: the ledgers stay as they are now;
- every notice a sweep sends is delivered at the sweep's time (the notice period counts from then), so a
  suspension the notice makes possible appears on the day its period has passed;
- the payment feed keeps its current lag: if it is too silent now, every forecast suspension is refused;
- a sweep halted by the blast-radius limit is not approved: its suspensions show as refused, and come back
  the next day;
- nobody approves a pending approval.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from shared.collections.calendar import Calendar
from shared.collections.decision import CollectionsCase, Decision, SentNotice
from shared.collections.evaluate import evaluate
from shared.collections.harm import harm_blockers
from shared.collections.ledger import CustomerLedger
from shared.collections.overrides import CustomerOverrides
from shared.collections.policy import Policy
from shared.domain import Money

ASSUMPTIONS = (
    "no payments, disputes, promises or operator actions arrive after now",
    "each notice a sweep sends is delivered at the sweep's time; notice periods count from then",
    "the payment feed keeps its current lag (a feed too silent now refuses every suspension)",
    "a sweep halted by the blast-radius limit is not approved; pending approvals stay pending",
)
_Frozen = ConfigDict(frozen=True, extra="forbid")
WAITING = frozenset({"notice_not_sent", "notice_too_recent", "already_suspended"})


class Guards(BaseModel):
    """The checks a real sweep and the enforcement worker apply beyond the policy's own gates."""

    model_config = _Frozen
    feed_problem: str | None = None  # e.g. "payment feed silent for 50.0 h (limit 36 h)"
    parked_customers: frozenset[str] = frozenset()  # payment events of theirs wait in the dead-letter table
    max_suspensions_per_run: int = 20
    max_suspension_share: float = 0.05


class Item(BaseModel):
    """One customer on one forecast day."""

    model_config = _Frozen
    customer_id: str
    name: str | None = None
    stage: str | None
    overdue: dict[str, str]
    reasons: tuple[str, ...] = ()  # reason codes (why refused, or what gate waits)


class Day(BaseModel):
    """What one sweep would do."""

    model_config = _Frozen
    date: date
    at: datetime
    evaluated: int
    notices: dict[str, tuple[Item, ...]]  # by stage id: customers who would receive its notice
    suspended: tuple[Item, ...]
    refused: tuple[Item, ...]  # a due suspension refused by a gate (calendar, approval) or a guard
    halted: str | None = None  # the blast-radius halt, if this run would stop and ask a person

    def overdue_total(self, items: Iterable[Item]) -> dict[str, str]:
        total: dict[str, Decimal] = {}
        for it in items:
            for c, a in it.overdue.items():
                total[c] = total.get(c, Decimal(0)) + Decimal(a)
        return {c: str(a) for c, a in sorted(total.items())}


@dataclass
class _Customer:
    order: int
    ledger: CustomerLedger
    notices: list[SentNotice]
    case: CollectionsCase | None
    review: float | None = None  # next_review_at as a POSIX timestamp (cheap to compare and heap-order)
    dirty: bool = True


def _item(d: Decision, names: Mapping[str, str | None], reasons: Iterable[str] = ()) -> Item:
    return Item.model_construct(customer_id=d.customer_id, name=names.get(d.customer_id), stage=d.stage,
                                reasons=tuple(reasons),
                                overdue={c: str(a) for c, a in d.snapshot.overdue.items()})


def forecast(
    ledgers: Iterable[CustomerLedger],
    policy: Policy,
    calendar: Calendar,
    moments: Sequence[datetime],
    guards: Guards,
    *,
    overrides: Mapping[str, CustomerOverrides] | None = None,
    notices: Mapping[str, Sequence[SentNotice]] | None = None,
    cases: Mapping[str, CollectionsCase] | None = None,
    unbilled: Mapping[str, Money] | None = None,
    every_day: bool = False,
) -> list[Day]:
    """One ``Day`` per sweep moment (ascending), under the module's assumptions. ``every_day`` evaluates every
    customer at every moment (the slow reference the tests and the benchmark compare against)."""
    overrides, notices, cases, unbilled = overrides or {}, notices or {}, cases or {}, unbilled or {}
    people: dict[str, _Customer] = {}
    for ledger in ledgers:
        case = cases.get(ledger.customer_id)
        if case is not None and case.policy_version != policy.version:  # as preview: re-based onto the policy
            case = case.model_copy(update={"policy_version": policy.version})
        people[ledger.customer_id] = _Customer(len(people), ledger, list(notices.get(ledger.customer_id, ())), case)
    portfolio = len(people)
    names = {cid: c.ledger.profile.name for cid, c in people.items()}
    harmful = {st.id for st in policy.stages if st.harmful}
    days: list[Day] = []
    reviews: list[tuple[float, str]] = []  # heap of (review time, customer): who needs a look, when
    standing: dict[str, tuple[Decision, list[str] | None]] = {}  # due (None) or gate-refused (codes), unchanged
    gate: tuple[str, ...] | None = None
    for at in moments:
        sent: dict[str, list[Item]] = {}
        due: list[tuple[_Customer, Decision]] = []
        refused: list[Item] = []
        evaluated = 0
        stamp = at.timestamp()
        while reviews and reviews[0][0] <= stamp:
            ts, cid = heapq.heappop(reviews)
            if people[cid].review == ts:  # else superseded by a later evaluation
                people[cid].dirty = True
        today_gate = tuple(r.code for r in harm_blockers(calendar, policy.calendar, at.astimezone(policy.tz)))
        if today_gate != gate:  # the calendar's verdict on harm changed: every due or refused case is re-decided
            for cid in standing:
                people[cid].dirty = True
            gate = today_gate
        if every_day:
            todo: Iterable[_Customer] = people.values()
        else:
            look = {c.order: c for c in people.values() if c.dirty} | {people[i].order: people[i] for i in standing}
            todo = [look[k] for k in sorted(look)]
        for c in todo:
            cid = c.ledger.customer_id
            if not (every_day or c.dirty):  # same inputs, same calendar verdict, no threshold crossed
                d, codes = standing[cid]
                if codes is None:
                    due.append((c, d))
                else:
                    refused.append(_item(d, names, codes))
                continue
            evaluated += 1
            standing.pop(cid, None)
            d = evaluate(c.ledger, overrides.get(cid), policy, calendar, at, c.notices, c.case,
                         unbilled=unbilled.get(cid))
            c.case = d.case if d.case is not None and d.case.closed_at is None else None
            c.review, c.dirty = (d.next_review_at.timestamp() if d.next_review_at else None), False
            if c.review is not None:
                heapq.heappush(reviews, (c.review, cid))
            for a in d.actions:
                # a suspending stage's own notice (suspension_done) follows the verified suspension: see below
                if a.kind == "notify_customer" and a.stage_id and a.stage_id not in harmful:
                    c.notices.append(SentNotice(stage_id=a.stage_id, sent_at=at,
                                                case_id=c.case.case_id if c.case else None))
                    sent.setdefault(a.stage_id, []).append(_item(d, names))
                    c.dirty = True
            if d.suspends:
                due.append((c, d))
                standing[cid] = (d, None)
            elif d.stage in harmful:
                blocked = [r.code for r in d.blocked_by]
                gates = [code for code in blocked if code not in WAITING]
                if gates and len(gates) == len(blocked):  # due, but a gate says no (calendar, approval, hold)
                    refused.append(_item(d, names, gates))
                    standing[cid] = (d, gates)
        halted = None
        targets = len(due)
        share = targets / portfolio if portfolio else 0.0
        if targets > guards.max_suspensions_per_run or share > guards.max_suspension_share:
            halted = (f"would suspend {targets} of {portfolio} customers ({share:.1%}); limits are "
                      f"{guards.max_suspensions_per_run} customers and {guards.max_suspension_share:.1%}")
        suspended: list[Item] = []
        for c, d in due:
            checks = (("blast_radius", halted is not None), ("stale_feed", bool(guards.feed_problem)),
                      ("parked_payment_events", d.customer_id in guards.parked_customers))
            why = [code for code, hit in checks if hit]
            if why:
                refused.append(_item(d, names, why))
                continue
            suspended.append(_item(d, names))
            stage = next(a.stage_id for a in d.actions if a.kind == "suspend")
            if any(a.kind == "notify_customer" and a.stage_id == stage for a in d.actions):
                sent.setdefault(stage or "", []).append(_item(d, names))  # not a gate: never recorded on the case
            if c.case is not None:
                c.case = c.case.model_copy(update={"suspended_by_stage": stage})
            c.dirty = True
            standing.pop(d.customer_id, None)
        days.append(Day(date=at.astimezone(policy.tz).date(), at=at, evaluated=evaluated,
                        notices={k: tuple(v) for k, v in sorted(sent.items())}, suspended=tuple(suspended),
                        refused=tuple(refused), halted=halted))
    return days



def sweep_time(schedule: str) -> time:
    """The UTC time of day of a daily six-field NCRONTAB schedule (``0 0 1 * * *`` -> 01:00:00).

    The first listed value of each time field is taken (``0 0 1,13 * * *`` -> 01:00); a wildcard is 0.
    """
    fields = schedule.split()
    if len(fields) != 6:
        raise ValueError(f"not a six-field NCRONTAB schedule: {schedule!r}")

    def first(f: str, hi: int) -> int:
        head = f.split(",")[0].split("/")[0].split("-")[0]
        value = 0 if head == "*" else int(head)
        if not 0 <= value <= hi:
            raise ValueError(f"{f!r} is out of range in {schedule!r}")
        return value

    return time(first(fields[2], 23), first(fields[1], 59), first(fields[0], 59), tzinfo=UTC)


def sweep_moments(schedule: str, after: datetime, days: int) -> list[datetime]:
    """The next ``days`` daily sweep moments strictly after ``after``."""
    at = sweep_time(schedule)
    first = datetime.combine(after.astimezone(UTC).date(), at)
    if first <= after:
        first += timedelta(days=1)
    return [first + timedelta(days=i) for i in range(days)]


def at_sweep_time(day: date, schedule: str, tz: tzinfo) -> datetime:
    """A date-only "preview at": the sweep that runs on that (local, policy time zone) day, at its own time."""
    at = datetime.combine(day, sweep_time(schedule))
    return at + timedelta(days=(day - at.astimezone(tz).date()).days)
