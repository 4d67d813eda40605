"""Every change to an open fraud case, as a timeline entry: actions (containment verified in Partner Center, other
responses), notes, and the resolution with its label. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from shared.fraud.cases import (
    FRAUD_SUSPENSION_REASON,
    Case,
    CaseError,
    CaseStatus,
    EntryKind,
    ReactivationPlan,
    Suppression,
    TimelineEntry,
)


def _act(case: Case, now: datetime, entry: TimelineEntry, **update: object) -> Case:
    if not case.is_open:
        raise CaseError(f"case {case.case_id} is {case.status.value}")
    status = CaseStatus.INVESTIGATING if entry.kind is EntryKind.ACTION else case.status
    return case.model_copy(
        update={
            "timeline": (*case.timeline, entry),
            "updated_at": now,
            "status": status,
            "first_action_at": case.first_action_at or (now if entry.kind is EntryKind.ACTION else None),
            **update,
        }
    )


def record_containment(
    case: Case, subscription_ids: Sequence[str], now: datetime, by: str = "csp-guard"
) -> Case:
    """Record suspensions actually carried out (read back from Partner Center) for this case."""
    subs = tuple(sorted(set(case.suspended) | set(subscription_ids)))
    azure = sum(1 for s in subscription_ids if "/" in s)
    what = (f"suspended {len(subscription_ids) - azure} subscription(s)" if azure < len(subscription_ids) else "")
    what += (" and " if what and azure else "") + (f"disabled {azure} Azure subscription(s)" if azure else "")
    entry = TimelineEntry(
        at=now,
        kind=EntryKind.ACTION,
        by=by,
        subscription_ids=tuple(sorted(subscription_ids)),
        text=f"{what} (verified in Partner Center): {FRAUD_SUSPENSION_REASON}",
    )
    return _act(case, now, entry, suspended=subs, contained_at=case.contained_at or now)


def record_action(case: Case, text: str, now: datetime, by: str = "csp-guard") -> Case:
    """Any other response (credentials reset requested, service request raised, customer contacted)."""
    return _act(case, now, TimelineEntry(at=now, kind=EntryKind.ACTION, text=text, by=by))


def add_note(case: Case, text: str, now: datetime, by: str) -> Case:
    return _act(case, now, TimelineEntry(at=now, kind=EntryKind.NOTE, text=text, by=by))


def resolve(
    case: Case, label: Literal["legitimate", "fraud"], now: datetime, by: str, note: str = "",
    suppress_days: int = 0,
) -> tuple[Case, ReactivationPlan]:
    """Close the case with its label: legitimate reactivates what this case suspended, fraud keeps it.

    Legitimate with ``suppress_days`` also suppresses the case's signal kinds for that many days, and the
    resolution entry says which and until when.
    """
    if not case.is_open:
        raise CaseError(f"case {case.case_id} is already {case.status.value}")
    status = CaseStatus.RESOLVED_LEGITIMATE if label == "legitimate" else CaseStatus.RESOLVED_FRAUD
    reactivate = case.suspended if label == "legitimate" else ()
    text = f"resolved as {label}" + (f": {note}" if note else "")
    suppressions = case.suppressions
    if label == "legitimate" and suppress_days > 0:
        until = now.date() + timedelta(days=suppress_days)
        kinds = sorted({h.signal.detector for h in case.hits})
        suppressions += tuple(Suppression(detector=k, until=until, case_id=case.case_id, by=by) for k in kinds)
        if kinds:
            text += f"; {', '.join(k.value for k in kinds)} signals suppressed until {until.isoformat()}"
    entry = TimelineEntry(at=now, kind=EntryKind.OUTCOME, text=text, by=by, subscription_ids=reactivate)
    closed = case.model_copy(
        update={
            "status": status,
            "label": label,
            "resolved_at": now,
            "updated_at": now,
            "timeline": (*case.timeline, entry),
            "suppressions": suppressions,
        }
    )
    plan = ReactivationPlan(
        case_id=case.case_id,
        customer_id=case.customer_id,
        subscription_ids=reactivate,
        reason=f"fraud case {case.case_id} resolved as {label}",
    )
    return closed, plan
