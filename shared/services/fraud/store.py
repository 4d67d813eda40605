"""Fraud state kept by csp-guard, and where each piece lives in Table storage.

| table           | partition   | row                   | document                                          |
|-----------------|-------------|-----------------------|---------------------------------------------------|
| usage           | customer id | "history"             | StoredHistory (daily spend series, <= 120 days)   |
| fraudcases      | customer id | "current"             | CaseRecord (the open or latest case of a customer)|
| fraudcases      | customer id | case id               | CaseRecord (earlier, resolved cases)              |
| fraudassessments| customer id | assessed day          | AssessmentRecord (incl. shadow hits)              |
| runs            | run id      | "fraudscan"           | FraudScanRun                                      |

One "current" row per customer is what makes "one open case per customer" hold under concurrent scans:
every change to it is an ETag-checked read-modify-write.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from shared.fraud import Assessment, Case
from shared.fraud.models import CustomerSeries
from shared.services.fraud.feed import UsageFeedStatus
from shared.storage.documents import DocumentStore

if TYPE_CHECKING:
    from shared.storage.ports import Tables

HISTORY_DAYS = 120
CURRENT = "current"


class StoredHistory(BaseModel):
    """One customer's daily usage history (per subscription and meter), trimmed to ``HISTORY_DAYS``."""

    customer_id: str
    series: CustomerSeries
    updated_at: datetime
    subscriptions_created: dict[str, date] = Field(default_factory=dict)  # Partner Center creationDate
    created_checked_on: date | None = None
    created_checked_for: int = 0  # subscriptions in usage when creation dates were last read


def trim(series: CustomerSeries, newest: date, keep_days: int = HISTORY_DAYS) -> CustomerSeries:
    """Drop days older than ``keep_days`` before ``newest`` (pure) so a document stays bounded."""
    cutoff = newest - timedelta(days=keep_days - 1)
    subs = {s: {d: v for d, v in days.items() if d >= cutoff} for s, days in series.subscriptions.items()}
    return CustomerSeries(
        customer_id=series.customer_id, customer_name=series.customer_name, currency=series.currency,
        subscriptions={s: days for s, days in subs.items() if days},
        daily={d: v for d, v in series.daily.items() if d >= cutoff})


class PendingContainment(BaseModel):
    """A containment waiting for an operator (the rule asked for approval)."""

    requested_at: datetime
    subscription_ids: tuple[str, ...]  # target labels: subscription ids, or "plan-id/entitlement-id"
    customer_wide: bool
    reasons: tuple[str, ...]
    status: Literal["pending", "approved"] = "pending"
    decided_by: str | None = None
    decided_at: datetime | None = None
    requested_by: str | None = None  # who started the scan that asked; four eyes: they may not approve it


class RequestUpdate(BaseModel):
    at: datetime
    by: str
    status: str
    note: str = ""


TicketStatus = Literal["open", "attention_needed", "closed"]
"""A 21Vianet support ticket's status as the Partner Center portal shows it (recorded by an operator)."""


class ServiceRequestRecord(BaseModel):
    """The service request to 21Vianet for a case (at most one per case).

    ``status``: queued (asked for) -> awaiting_containment (the pack waits for Partner Center's containment
    outcome) -> ready (portal channel: pack generated, an operator files it in the portal) or sent (e-mail /
    webhook) -> filed (the operator recorded 21Vianet's ticket number) -> closed (the ticket was closed).
    """

    status: Literal["queued", "awaiting_containment", "ready", "sent", "filed", "closed", "failed",
                    "acknowledged"] = "queued"  # "acknowledged": records written before ticket tracking
    requested_at: datetime
    requested_by: str
    channel: Literal["portal", "email", "webhook"] | None = None
    recipient: str | None = None
    reference: str | None = None  # e-mail Message-ID, or the idempotency key sent to the webhook
    sent_at: datetime | None = None
    subject: str | None = None
    pack_generated_at: datetime | None = None
    pack_containment: str | None = None  # the containment status the generated pack states
    ticket_number: str | None = None  # 21Vianet's support ticket number, recorded by the operator who filed it
    ticket_status: TicketStatus | None = None
    ticket_recorded_at: datetime | None = None
    ticket_recorded_by: str | None = None
    updates: list[RequestUpdate] = Field(default_factory=list)


class ContainmentKey(BaseModel):
    """One containment sent to enforcement for a case: the request's idempotency key and the targets it named
    (labels: subscription ids, "plan-id/entitlement-id" for Azure subscriptions)."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(min_length=1)
    targets: tuple[str, ...] = ()

    @property
    def stored(self) -> str:
        """The form a case record keeps ("key|label,label"): the one every version of csp-guard reads."""
        return f"{self.key}|{','.join(self.targets)}"


class CaseRecord(BaseModel):
    """The engine's ``Case`` plus what the services track around it."""

    case: Case
    customer_name: str = ""
    pending: PendingContainment | None = None
    containment_keys: list[ContainmentKey] = Field(default_factory=list)  # containments sent for this case
    service_request: ServiceRequestRecord | None = None
    alerts: list[str] = Field(default_factory=list)  # idempotency keys of team alerts sent
    reactivation_key: str | None = None

    @field_validator("containment_keys", mode="before")
    @classmethod
    def _stored_strings(cls, value: Any) -> Any:
        """Records written before ``ContainmentKey`` hold "key|label,label" strings: read them as the typed value
        (the one place that form is parsed)."""
        if not isinstance(value, list | tuple):
            return value
        typed: list[Any] = []
        for item in value:
            if isinstance(item, str):
                key, _, targets = item.partition("|")
                item = {"key": key, "targets": tuple(t for t in targets.split(",") if t)}
            typed.append(item)
        return typed

    @field_serializer("containment_keys")
    def _as_stored(self, keys: list[ContainmentKey]) -> list[str]:
        """Written as before (a rollback reads it); typed everywhere in code."""
        return [k.stored for k in keys]

    @property
    def requested_targets(self) -> tuple[str, ...]:
        """Every target a containment was sent to enforcement for (whether or not its outcome is known)."""
        return tuple(t for k in self.containment_keys for t in k.targets)


class AssessmentRecord(BaseModel):
    """Every assessment that hit something, shadow rules included (recorded, never acted on)."""

    assessment: Assessment
    run_id: str
    case_id: str | None = None


class FraudScanRun(BaseModel):
    run_id: str
    started_at: datetime
    requested_by: str
    status: Literal["queued", "streaming", "assessing", "completed", "failed"] = "queued"
    pages: int = 0
    lines: int = 0
    customers: int = 0
    shards: int = 0
    shards_done: int = 0
    assessed: int = 0
    flagged: int = 0
    shadow_flagged: int = 0
    cases_opened: int = 0
    cases_updated: int = 0
    containments: int = 0
    pending_approvals: int = 0
    fraud_events: int = 0
    finished_at: datetime | None = None
    errors: list[str] = Field(default_factory=list)


class FraudStores:
    """The fraud repositories over one ``Tables`` port (built once by a composition root)."""

    def __init__(self, tables: Tables) -> None:
        self.history = DocumentStore(tables, "usage", StoredHistory)
        self.cases = DocumentStore(tables, "fraudcases", CaseRecord)
        self.assessments = DocumentStore(tables, "fraudassessments", AssessmentRecord)
        self.runs = DocumentStore(tables, "runs", FraudScanRun)
        self.usage_feed = DocumentStore(tables, "runs", UsageFeedStatus)  # the usage feed's newest day

    def series(self, customer_id: str) -> CustomerSeries | None:
        found = self.history.get(customer_id, "history")
        return found.series if found else None

    def current(self, customer_id: str) -> CaseRecord | None:
        return self.cases.get(customer_id, CURRENT)

    def all_current(self) -> list[CaseRecord]:
        return list(self.cases.with_row(CURRENT))

    def case_history(self, customer_id: str) -> list[CaseRecord]:
        return sorted(self.cases.partition(customer_id), key=lambda r: r.case.opened_at, reverse=True)
