"""Fraud cases: one per customer per incident, with a timeline, containment and resolution; opened or grown from
assessments here (``open_or_update``), changed by ``case_actions``, contained per ``containment``. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.fraud.assess import Assessment, RuleHit
from shared.fraud.rules import FraudError, Outcome
from shared.fraud.signals import Detector, Figure

FRAUD_SUSPENSION_REASON: Literal["fraud investigation"] = "fraud investigation"
RESPONSE_GUIDANCE = timedelta(hours=1)
"""Microsoft asks partners to respond to a fraud alert within an hour."""


class CaseError(FraudError):
    """An operation that the case's status does not allow."""


class CaseStatus(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    RESOLVED_LEGITIMATE = "resolved_legitimate"
    RESOLVED_FRAUD = "resolved_fraud"


class EntryKind(StrEnum):
    SIGNAL = "signal"
    ACTION = "action"
    NOTE = "note"
    OUTCOME = "outcome"


class ContainmentStatus(StrEnum):
    """What Partner Center says about a case's containment (verified by read-back, never assumed)."""

    NONE = "none"  # nothing asked
    REQUESTED = "requested"  # sent to enforcement, outcome not yet known
    CONTAINED = "contained"  # every target verified suspended/disabled
    PARTIAL = "partial"  # some targets verified, others still active: a person must look
    FAILED = "failed"  # Partner Center refused or nothing could be verified


class Containment(BaseModel):
    """A case's containment as Partner Center last reported it: the only source for case, alert and request text."""

    model_config = ConfigDict(frozen=True)

    status: ContainmentStatus = ContainmentStatus.NONE
    detail: str = ""  # what Partner Center said, e.g. "900115: Azure plan has active Azure subscriptions"
    verified_at: datetime | None = None
    targets: tuple[str, ...] = ()  # in scope: subscription ids, or "plan-id/entitlement-id" for Azure subscriptions
    contained: tuple[str, ...] = ()  # verified suspended/disabled
    failed: tuple[str, ...] = ()  # still active or refused: need a person
    errors: dict[str, str] = Field(default_factory=dict)  # failed target -> what Partner Center showed/answered
    attempts: int = 0


class Suppression(BaseModel):
    """A signal kind a person judged legitimate for this customer: not raised again until ``until``."""

    model_config = ConfigDict(frozen=True)

    detector: Detector
    until: date
    case_id: str
    by: str


class TimelineEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    kind: EntryKind
    text: str
    by: str = "csp-guard"
    rule_id: str = ""
    signal_key: str = ""
    subscription_ids: tuple[str, ...] = ()
    figures: dict[str, Figure] = {}


class Case(BaseModel):
    """A fraud/misuse incident for one customer; ``label`` records how it ended (legitimate / fraud)."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    customer_id: str
    status: CaseStatus = CaseStatus.OPEN
    outcome: Outcome
    requires_approval: bool
    rules_version: str
    opened_at: datetime
    updated_at: datetime
    first_signal_at: datetime
    first_action_at: datetime | None = None
    contained_at: datetime | None = None
    resolved_at: datetime | None = None
    label: Literal["legitimate", "fraud"] | None = None
    hits: tuple[RuleHit, ...] = ()
    suspended: tuple[str, ...] = ()
    containment: Containment = Containment()
    timeline: tuple[TimelineEntry, ...] = ()
    suppressions: tuple[Suppression, ...] = ()
    """Carried from case to case of the customer until they expire."""

    def suppressed(self, on: date) -> frozenset[Detector]:
        return frozenset(s.detector for s in self.suppressions if s.until >= on)

    @property
    def is_open(self) -> bool:
        return self.status in (CaseStatus.OPEN, CaseStatus.INVESTIGATING)

    @property
    def signal_keys(self) -> frozenset[str]:
        return frozenset(f"{h.rule_id}|{h.signal.key}" for h in self.hits)

    @property
    def response_time(self) -> timedelta | None:
        """From the first signal to the first action (containment or any other recorded action)."""
        return None if self.first_action_at is None else self.first_action_at - self.first_signal_at

    def within_guidance(self, now: datetime, limit: timedelta = RESPONSE_GUIDANCE) -> bool:
        """Whether the first action came (or can still come) within Microsoft's one-hour guidance."""
        elapsed = self.response_time if self.response_time is not None else now - self.first_signal_at
        return elapsed <= limit


class CaseChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["opened", "signal_added", "outcome_raised"]
    detail: str


class ReactivationPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    customer_id: str
    subscription_ids: tuple[str, ...]
    reason: str


def _actionable(a: Assessment) -> list[RuleHit]:
    if a.outcome is Outcome.ALLOW:
        return []
    return [h for h in a.hits if h.outcome is not Outcome.ALLOW]


def _signal_entries(hits: Sequence[RuleHit], now: datetime) -> tuple[TimelineEntry, ...]:
    return tuple(
        TimelineEntry(
            at=now,
            kind=EntryKind.SIGNAL,
            text=h.signal.why,
            rule_id=h.rule_id,
            signal_key=h.signal.key,
            subscription_ids=h.signal.subscription_ids,
            figures=h.signal.figures,
        )
        for h in hits
    )


def open_or_update(
    existing: Case | None, assessment: Assessment, now: datetime
) -> tuple[Case | None, list[CaseChange]]:
    """Open a case for an actionable assessment, or let the open case absorb its new signals.

    A resolved case is never reopened; its signals are not raised again, anything new opens a new incident.
    Signal kinds a person resolved as legitimate are not raised until their suppression expires.
    """
    quiet = existing.suppressed(now.date()) if existing else frozenset()
    hits = [h for h in _actionable(assessment) if h.signal.detector not in quiet]
    block = assessment.listed == "block"
    if existing is not None and existing.customer_id != assessment.customer_id:
        raise CaseError(
            f"case {existing.case_id} belongs to {existing.customer_id}, not {assessment.customer_id}"
        )
    known = existing.signal_keys if existing else frozenset()
    new_hits = [h for h in hits if f"{h.rule_id}|{h.signal.key}" not in known]
    if existing is not None and existing.is_open:
        if not new_hits and not (block and existing.outcome is not Outcome.CONTAIN):
            return existing, []
        changes = [CaseChange(kind="signal_added", detail=f"{h.rule_id}: {h.signal.why}") for h in new_hits]
        outcome = existing.outcome
        if assessment.outcome.rank > existing.outcome.rank:
            changes.append(
                CaseChange(kind="outcome_raised", detail=f"{outcome.value} -> {assessment.outcome.value}")
            )
            outcome = assessment.outcome
        case = existing.model_copy(
            update={
                "hits": existing.hits + tuple(new_hits),
                "outcome": outcome,
                "updated_at": now,
                "requires_approval": existing.requires_approval or assessment.requires_approval,
                "timeline": existing.timeline + _signal_entries(new_hits, now),
            }
        )
        return case, changes
    if not new_hits and (not block or existing is not None):
        # a block-listed customer opens a case once; after a person resolved it, only new signals reopen anything
        return existing, []
    entries = _signal_entries(new_hits, now)
    if block:
        entries = (TimelineEntry(at=now, kind=EntryKind.NOTE, text=assessment.explanations[0]), *entries)
    case = Case(
        case_id=f"fraud-{assessment.customer_id}-{now:%Y%m%dT%H%M%S}",
        customer_id=assessment.customer_id,
        outcome=assessment.outcome,
        requires_approval=assessment.requires_approval,
        rules_version=assessment.rules_version,
        opened_at=now,
        updated_at=now,
        first_signal_at=now,
        hits=tuple(new_hits),
        timeline=entries,
        suppressions=tuple(x for x in (existing.suppressions if existing else ()) if x.until >= now.date()),
    )
    return case, [CaseChange(kind="opened", detail=f"{assessment.outcome.value}: {len(new_hits)} signal(s)")]
