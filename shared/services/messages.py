"""Payload schemas of the app's own queue messages (kinds are listed in docs/architecture.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from shared.collections.decision import DecisionTrace
from shared.collections.policy import SuspendScope
from shared.fraud.models import FraudEvent, PeerBaseline
from shared.messaging import Envelope, kinds
from shared.messaging.envelope import current_correlation_id
from shared.services.state import SuspensionReason

ENFORCEMENT_KIND = kinds.ENFORCEMENT
SWEEP_SHARD_KIND = kinds.SWEEP_SHARD
NOTICE_KIND = kinds.NOTICE


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_serializer(mode="wrap")
    def _without_empty_decision(self, handler: SerializerFunctionWrapHandler) -> Any:
        """A message without a decision is written as before the field existed (the previous version reads it)."""
        data = handler(self)
        if isinstance(data, dict) and data.get("decision", 0) is None:
            del data["decision"]
        return data


class AzureTarget(_Payload):
    """One Azure subscription (entitlement) under an Azure plan: the unit Partner Center can disable."""

    plan_subscription_id: str = Field(min_length=1)
    entitlement_id: str = Field(min_length=1)


class LetterRef(_Payload):
    """A kept message (dead letter) a team alert is about."""

    queue: str = Field(min_length=1, max_length=63)
    id: str = Field(min_length=1, max_length=200)


class NoticeTarget(_Payload):
    """A subscription or Azure subscription a team alert names, with what Partner Center last showed for it."""

    id: str
    name: str = ""
    status: str = ""
    error: str = ""


class CollectionsNotice(_Payload):
    """Send the notice of a stage to a customer (context is built when sending, from fresh state)."""

    customer_id: str
    key: str
    stage_id: str
    template: str
    case_id: str | None = None
    audience: Literal["customer", "team"] = "customer"
    reason: str = ""
    letter: LetterRef | None = None  # team alert about a kept message that names no customer
    targets: tuple[NoticeTarget, ...] = ()  # team alerts: the targets that need a person
    decision: DecisionTrace | None = None  # the collections decision that asked for it (kept in the audit)

    def envelope(self, correlation_id: str | None = None) -> Envelope:
        return Envelope(kind=NOTICE_KIND, idempotency_key=self.key, payload=self.model_dump(mode="json"),
                        correlation_id=correlation_id or current_correlation_id())


class EnforcementRequest(_Payload):
    """Suspend or reactivate subscriptions of one customer. ``key`` is the business idempotency key."""

    action: Literal["suspend", "reactivate"]
    customer_id: str = Field(min_length=1)
    reason: SuspensionReason
    key: str = Field(min_length=1, max_length=300)
    detail: str = Field(min_length=1, max_length=500)
    actor: str = Field(default="csp-guard", min_length=1)
    case_id: str | None = None
    stage_id: str | None = None
    scope: SuspendScope | None = None  # suspend: which subscriptions ("all" only when it says so)
    subscription_ids: tuple[str, ...] = ()  # explicit subscriptions (manual and fraud actions)
    entitlements: tuple[AzureTarget, ...] = ()  # explicit Azure subscriptions under their plans
    run_id: str | None = None
    requested_at: datetime
    then_notify: tuple[CollectionsNotice, ...] = ()  # sent only after a verified suspension
    decision: DecisionTrace | None = None  # the collections decision that asked for it (kept in the audit)

    @model_validator(mode="after")
    def _names_its_targets(self) -> EnforcementRequest:
        """A suspension acts on exactly what it names: never on "all" by default or by accident."""
        if self.action == "suspend" and self.scope is None and not self.subscription_ids and not self.entitlements:
            raise ValueError("a suspension must name a scope, subscription_ids or entitlements (scope kind "
                             "\"all\" for every subscription)")
        return self

    def envelope(self, correlation_id: str | None = None) -> Envelope:
        return Envelope(kind=ENFORCEMENT_KIND, idempotency_key=self.key, payload=self.model_dump(mode="json"),
                        correlation_id=correlation_id or current_correlation_id())


class SweepShard(_Payload):
    run_id: str
    shard: int = Field(ge=0)
    shards: int = Field(gt=0)
    customer_ids: tuple[str, ...]
    as_of: datetime

    def envelope(self) -> Envelope:
        return Envelope(kind=SWEEP_SHARD_KIND, idempotency_key=f"{self.run_id}:{self.shard}",
                        correlation_id=self.run_id, payload=self.model_dump(mode="json"))


class FraudScanItem(_Payload):
    """Payload of a ``fraud.scan`` message: stream the usage, or assess one shard of customers."""

    run_id: str
    stage: Literal["stream", "assess"] = "stream"
    as_of: datetime
    shard: int = 0
    customer_ids: tuple[str, ...] = ()
    peers: tuple[PeerBaseline, ...] = ()
    events: tuple[FraudEvent, ...] = ()

    def envelope(self) -> Envelope:
        return Envelope(kind=kinds.FRAUD_SCAN, idempotency_key=f"{self.run_id}:{self.stage}:{self.shard}",
                        correlation_id=self.run_id, payload=self.model_dump(mode="json"))


class ServiceRequestMessage(_Payload):
    """Payload of a ``fraud.service_request`` message on Queue.SERVICE_REQUESTS."""

    customer_id: str = Field(min_length=1)
    case_id: str = Field(min_length=1)
    requested_by: str = Field(min_length=1)
    note: str = ""
    requested_at: datetime
    waits: int = Field(default=0, ge=0)  # times the worker put it back to wait for the containment outcome

    @property
    def key(self) -> str:
        return f"fraud:{self.case_id}:service-request"

    def envelope(self) -> Envelope:
        key = f"{self.key}:wait{self.waits}" if self.waits else self.key
        return Envelope(kind=kinds.SERVICE_REQUEST, idempotency_key=key, payload=self.model_dump(mode="json"))
