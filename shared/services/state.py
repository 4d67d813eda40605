"""Collections state kept by csp-guard, and where each piece lives in Table storage.

| table        | partition   | row                | document                                   |
|--------------|-------------|--------------------|--------------------------------------------|
| ledger       | customer id | "ledger"           | CustomerLedger (payment events applied)    |
| overrides    | customer id | "overrides"        | CustomerOverrides (exemptions, promises)   |
| cases        | customer id | "collections"      | CollectionsState (case, notices sent)      |
| suspensions  | customer id | suspension_row()   | SuspensionRecord (what *we* suspended/disabled) |
| approvals    | "pending"/"decided" | action key | ApprovalRequest                            |
| runs         | run id      | "run" / "shard-N"  | SweepRun / ShardResult                     |
| feeds        | "feed"      | feed name          | FeedStatus (stale-data guard)              |
| exposure     | customer id | "unbilled"         | UnbilledExposure (from the usage scan)     |
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from shared.collections import Action, CollectionsCase, CustomerLedger, CustomerOverrides, SentNotice
from shared.domain import Money
from shared.storage.documents import DocumentStore

if TYPE_CHECKING:
    from shared.storage.ports import Tables

SuspensionReason = Literal["nonpayment", "fraud", "manual"]


class CollectionsState(BaseModel):
    """The current case and every notice actually delivered (evaluation needs both)."""

    customer_id: str
    case: CollectionsCase | None = None
    notices: list[SentNotice] = Field(default_factory=list)
    closed_cases: list[str] = Field(default_factory=list)
    lifts: int = 0  # non-payment suspensions lifted so far: makes each new suspension a new action key


class SuspensionRecord(BaseModel):
    """One subscription csp-guard suspended: only these are ever reactivated by csp-guard."""

    customer_id: str
    subscription_id: str
    reason: SuspensionReason
    detail: str
    action_key: str
    suspended_at: datetime
    suspended_by: str
    case_id: str | None = None
    is_addon: bool = False
    parent_subscription_id: str | None = None
    name: str = ""
    entitlement_id: str | None = None  # an Azure subscription (entitlement) under the Azure plan ``subscription_id``
    verified_at: datetime | None = None  # when Partner Center's read-back last showed it suspended/disabled
    seen_status: str = ""  # what Partner Center showed at the last read ("" = not read back yet)

    @property
    def row(self) -> str:
        return suspension_row(self.subscription_id, self.entitlement_id)

    @property
    def label(self) -> str:
        """How operators, cases and audits name the target: a subscription id, or "plan-id/entitlement-id"."""
        return target_label(self.subscription_id, self.entitlement_id)


def suspension_row(subscription_id: str, entitlement_id: str | None = None) -> str:
    """Row key of a SuspensionRecord (Table keys can't hold "/"): the subscription, or plan "_" Azure subscription."""
    return subscription_id if not entitlement_id else f"{subscription_id}_{entitlement_id}"


def target_label(subscription_id: str, entitlement_id: str | None = None) -> str:
    return subscription_id if not entitlement_id else f"{subscription_id}/{entitlement_id}"


class ApprovalRequest(BaseModel):
    """A harmful action waiting for a person; keyed by the action key so it is stored once."""

    key: str
    customer_id: str
    action: Action | None  # None for a halted sweep run (approving it releases all its suspensions)
    requested_at: datetime
    why: str
    status: Literal["pending", "approved", "rejected"] = "pending"
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    run_id: str | None = None  # set when a halted sweep run asks for approval as a whole
    requested_by: str | None = None  # who caused the request; four eyes: they may not approve it


class SweepRun(BaseModel):
    """One collections sweep. Suspensions are released only when every shard is in and the blast-radius
    check passes; otherwise the run halts and waits for a person."""

    run_id: str
    as_of: datetime
    shards: int
    customers: int
    shards_done: int = 0
    status: Literal["running", "completed", "halted", "approved", "rejected"] = "running"
    planned_suspensions: int = 0
    customers_to_suspend: int = 0
    notices: int = 0
    reactivations: int = 0
    approvals: int = 0
    errors: list[str] = Field(default_factory=list)
    finished_at: datetime | None = None
    detail: str = ""
    requested_by: str = "csp-guard:timer"  # the timer, or the operator who started it


class ShardResult(BaseModel):
    run_id: str
    shard: int
    evaluated: int
    planned: list[dict[str, object]] = Field(default_factory=list)  # EnforcementRequest dumps
    notices: int = 0
    reactivations: int = 0
    approvals: int = 0
    errors: list[str] = Field(default_factory=list)


class FeedStatus(BaseModel):
    name: str
    last_event_at: datetime
    events: int = 0


class UnbilledExposure(BaseModel):
    """Unbilled daily-rated usage (the partner's cost, licences excluded) as of the newest usage day read."""

    customer_id: str
    unbilled: Money
    as_of: datetime
    observed_at: datetime | None = None  # when the scan read it (a customer missing from a scan is set to 0)


@dataclass
class CustomerInputs:
    """Everything evaluating one customer reads, loaded once (per customer, or per shard in a few queries)."""

    ledger: CustomerLedger | None
    state: CollectionsState
    state_etag: str | None
    overrides: CustomerOverrides | None
    unbilled: Money | None
    suspensions: list[SuspensionRecord]


class Stores:
    """Typed stores over one TableServiceClient."""

    def __init__(self, tables: Tables) -> None:
        self.ledgers = DocumentStore(tables, "ledger", CustomerLedger)
        self.overrides = DocumentStore(tables, "overrides", CustomerOverrides)
        self.cases = DocumentStore(tables, "cases", CollectionsState)
        self.suspensions = DocumentStore(tables, "suspensions", SuspensionRecord)
        self.approvals = DocumentStore(tables, "approvals", ApprovalRequest)
        self.feeds = DocumentStore(tables, "feeds", FeedStatus)
        self.exposure = DocumentStore(tables, "exposure", UnbilledExposure)
        self.runs = DocumentStore(tables, "runs", SweepRun)
        self.shards = DocumentStore(tables, "runs", ShardResult)

    def shard_results(self, run_id: str) -> Iterator[ShardResult]:
        """The shard results in so far of one sweep run."""
        return self.shards.partition(run_id, row_prefix="shard-")

    def recent_runs(self, limit: int) -> list[SweepRun]:
        """The newest ``limit`` sweep runs, newest first."""
        return sorted(self.runs.with_row("run"), key=lambda r: r.as_of, reverse=True)[:limit]

    def ledger(self, customer_id: str) -> CustomerLedger | None:
        return self.ledgers.get(customer_id, "ledger")

    def overrides_for(self, customer_id: str) -> CustomerOverrides | None:
        return self.overrides.get(customer_id, "overrides")

    def collections_state(self, customer_id: str) -> CollectionsState:
        return self.cases.get(customer_id, "collections") or CollectionsState(customer_id=customer_id)

    def suspended_by_us(self, customer_id: str) -> list[SuspensionRecord]:
        return list(self.suspensions.partition(customer_id))

    def customers(self) -> list[str]:
        """Every customer with a ledger (the portfolio the sweep evaluates)."""
        return sorted(self.ledgers.partition_keys("ledger"))

    def unbilled(self, customer_id: str) -> Money | None:
        found = self.exposure.get(customer_id, "unbilled")
        return found.unbilled if found else None

    def inputs(self, customer_id: str) -> CustomerInputs:
        found = self.cases.get_with_etag(customer_id, "collections")
        state, etag = found if found else (CollectionsState(customer_id=customer_id), None)
        return CustomerInputs(self.ledger(customer_id), state, etag, self.overrides_for(customer_id),
                              self.unbilled(customer_id), self.suspended_by_us(customer_id))

    def inputs_for_range(self, customer_ids: list[str]) -> dict[str, CustomerInputs]:
        """Inputs of a sorted run of customers with five range queries (the sweep's shards are such runs)."""
        if not customer_ids:
            return {}
        first, last = customer_ids[0], customer_ids[-1]
        wanted = set(customer_ids)
        ledgers = {k: d for k, d, _ in self.ledgers.range_with_etags(first, last, "ledger") if k in wanted}
        states = {k: (d, e) for k, d, e in self.cases.range_with_etags(first, last, "collections") if k in wanted}
        overrides = {k: d for k, d, _ in self.overrides.range_with_etags(first, last, "overrides") if k in wanted}
        unbilled = {k: d.unbilled for k, d, _ in self.exposure.range_with_etags(first, last, "unbilled")
                    if k in wanted}
        suspensions: dict[str, list[SuspensionRecord]] = {}
        for _, record, _ in self.suspensions.range_with_etags(first, last):
            if record.customer_id in wanted:
                suspensions.setdefault(record.customer_id, []).append(record)
        out = {}
        for cid in customer_ids:
            if cid not in ledgers:  # not in the key range (unusual characters?): never skip it, read it alone
                out[cid] = self.inputs(cid)
                continue
            state, etag = states.get(cid, (CollectionsState(customer_id=cid), None))
            out[cid] = CustomerInputs(ledgers[cid], state, etag, overrides.get(cid), unbilled.get(cid),
                                      suspensions.get(cid, []))
        return out
