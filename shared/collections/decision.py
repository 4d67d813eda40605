"""What evaluation consumes besides the ledger (cases, sent notices) and what it returns (Decision)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.collections.keys import ActionKey
from shared.collections.policy import SuspendScope
from shared.domain import Money
from shared.domain.money import DecimalStr
from shared.domain.trace import DecisionTrace, Reason

_Frozen = ConfigDict(frozen=True, extra="forbid")


class SentNotice(BaseModel):
    """A customer notice that was actually delivered (recorded by the notification service)."""

    model_config = _Frozen
    stage_id: str
    sent_at: AwareDatetime
    case_id: str | None = None


class Approval(BaseModel):
    """A person approved the harmful action of ``stage_id`` within one case."""

    model_config = _Frozen
    stage_id: str
    approver: str
    approved_at: AwareDatetime


class CollectionsCase(BaseModel):
    """One episode of non-payment: opened when an overdue balance above tolerance appears, closed when it
    clears. Records the policy version it started under; its notices and approvals count only inside it."""

    model_config = _Frozen
    case_id: str
    customer_id: str
    policy_version: str
    opened_at: AwareDatetime
    closed_at: AwareDatetime | None = None
    suspended_by_stage: str | None = None  # set by the service once a suspension is verified
    approvals: tuple[Approval, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


ActionKind = Literal["notify_customer", "notify_team", "suspend", "reactivate"]


class Action(BaseModel):
    """One thing to do now. ``key`` is stable across re-evaluations so executors can act idempotently."""

    model_config = _Frozen
    kind: ActionKind
    key: str
    stage_id: str | None = None
    template: str | None = None
    scope: SuspendScope | None = None
    reason: str

    @property
    def action_key(self) -> ActionKey:
        """``key`` as the typed value it was built from."""
        return ActionKey.parse(self.key)


class Snapshot(BaseModel):
    """The figures the decision was based on."""

    model_config = _Frozen
    local_date: date
    overdue: dict[str, DecimalStr]
    disputed: dict[str, DecimalStr]
    unallocated: dict[str, DecimalStr]
    oldest_unpaid_due: date | None
    days_past_due: int | None
    credit_limit: Money | None
    unbilled: Money | None
    exposure: Money | None
    exposure_ratio: DecimalStr | None
    ledger_digest: str


class Decision(BaseModel):
    """The result of one evaluation of one customer."""

    model_config = _Frozen
    customer_id: str
    evaluated_at: datetime
    policy_version: str
    stage: str | None
    severity: int  # 0 = no stage, else 1 + the stage's position in the policy
    actions: tuple[Action, ...]
    pending_approval: tuple[Action, ...]
    blocked_by: tuple[Reason, ...]
    reasons: tuple[Reason, ...]
    next_review_at: datetime | None
    case: CollectionsCase | None
    case_change: Literal["opened", "closed"] | None
    snapshot: Snapshot
    fingerprint: str

    @property
    def suspends(self) -> bool:
        return any(a.kind == "suspend" for a in self.actions)

    @property
    def trace(self) -> DecisionTrace:
        """What the audit keeps of this decision."""
        return DecisionTrace(fingerprint=self.fingerprint, policy_version=self.policy_version,
                             reasons=self.reasons, blocked_by=self.blocked_by)


ZERO = Decimal(0)
