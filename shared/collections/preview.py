"""Portfolio dry-run: evaluate many customers under one policy; diff two runs (e.g. two policy versions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from shared.collections.calendar import Calendar
from shared.collections.decision import CollectionsCase, Decision, SentNotice
from shared.collections.evaluate import evaluate
from shared.collections.ledger import CustomerLedger
from shared.collections.overrides import CustomerOverrides
from shared.collections.policy import Policy
from shared.domain import Money


def preview(
    ledgers: Iterable[CustomerLedger],
    policy: Policy,
    calendar: Calendar,
    now: datetime,
    *,
    overrides: Mapping[str, CustomerOverrides] | None = None,
    notices: Mapping[str, Sequence[SentNotice]] | None = None,
    cases: Mapping[str, CollectionsCase] | None = None,
    unbilled: Mapping[str, Money] | None = None,
    errors: dict[str, str] | None = None,
) -> list[Decision]:
    """What tonight's run would decide for every customer under ``policy`` (nothing is executed).

    Open cases are re-based onto ``policy``'s version so a draft policy can be tried on live cases. With
    ``errors`` given, a customer whose evaluation raises is recorded there (id -> reason) and left out, so
    one customer's bad data cannot hide the rest of the portfolio.
    """
    overrides, notices, cases, unbilled = overrides or {}, notices or {}, cases or {}, unbilled or {}
    out = []
    for ledger in ledgers:
        cid = ledger.customer_id
        case = cases.get(cid)
        if case is not None and case.policy_version != policy.version:
            case = case.model_copy(update={"policy_version": policy.version})
        try:
            decision = evaluate(
                ledger,
                overrides.get(cid),
                policy,
                calendar,
                now,
                notices.get(cid, ()),
                case,
                unbilled=unbilled.get(cid),
            )
        except (ArithmeticError, ValueError, TypeError, KeyError) as exc:
            if errors is None:
                raise
            errors[cid] = f"{type(exc).__name__}: {exc}"
            continue
        out.append(decision)
    return out


class DecisionChange(BaseModel):
    """How one customer's decision differs between two runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    customer_id: str
    old_stage: str | None
    new_stage: str | None
    severity_delta: int
    actions_added: tuple[str, ...]
    actions_removed: tuple[str, ...]
    blocked_added: tuple[str, ...]
    blocked_removed: tuple[str, ...]


def _action_labels(d: Decision | None) -> set[str]:
    if d is None:
        return set()
    return {f"{a.kind}:{a.stage_id}" for a in d.actions} | {
        f"pending:{a.kind}:{a.stage_id}" for a in d.pending_approval
    }


def _blocked(d: Decision | None) -> set[str]:
    return set() if d is None else {r.code for r in d.blocked_by}


def diff_decisions(old: Iterable[Decision], new: Iterable[Decision]) -> list[DecisionChange]:
    """Customers whose stage, actions or blocks differ, sorted harsher-first then by customer id."""
    before = {d.customer_id: d for d in old}
    after = {d.customer_id: d for d in new}
    changes = []
    for cid in sorted(before.keys() | after.keys()):
        a, b = before.get(cid), after.get(cid)
        la, lb = _action_labels(a), _action_labels(b)
        ba, bb = _blocked(a), _blocked(b)
        sa, sb = (a.stage if a else None), (b.stage if b else None)
        if sa == sb and la == lb and ba == bb:
            continue
        changes.append(
            DecisionChange(
                customer_id=cid,
                old_stage=sa,
                new_stage=sb,
                severity_delta=(b.severity if b else 0) - (a.severity if a else 0),
                actions_added=tuple(sorted(lb - la)),
                actions_removed=tuple(sorted(la - lb)),
                blocked_added=tuple(sorted(bb - ba)),
                blocked_removed=tuple(sorted(ba - bb)),
            )
        )
    changes.sort(key=lambda c: (-c.severity_delta, c.customer_id))
    return changes
