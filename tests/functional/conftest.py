"""The functional tier's world: the use cases on ``MemoryContext`` with the real Partner Center client talking to
the sandbox app in-process (``httpx.ASGITransport``: no Azurite, no runner, no sockets).

``World.host`` plays the Functions host: it takes what a use case sent (``ctx.queues.take``), encodes it as the
host would read it, parses or parks it (``parse_or_park``, as ``functions/_queue.receive`` does) and calls the use
case the function in ``functions/*.py`` calls. ``World.clock`` moves the app's (and the sandbox's) time.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.sandbox import SandboxConfig
from devtools.sandbox.admin import NewCustomer, NewSubscription, UsageItem, add_customer, add_usage, state
from devtools.sandbox.app import build_app
from devtools.sandbox.store import Store
from shared import clock
from shared.memory import MemoryContext
from shared.messaging import Envelope, Queue, kinds
from shared.messaging.handling import parse_or_park
from shared.messaging.producer import encode_body
from shared.partner_center import CHINA, PartnerCenterClient, RetryPolicy
from shared.settings import Settings, load_settings
from shared.storage.audit import AuditEntry

HERE = Path(__file__).parent
POLICY = HERE.parent / "e2e_collections" / "policy-e2e.yaml"  # the stories' policy: calendar gates open
RULES = HERE.parent / "e2e_fraud" / "rules-contain.yaml"  # GPU misuse contained without approval
SUPPORT = "support@21vianet.example"
TEAM = "collections@partner.example"


class MovableClock:
    """The app's clock, moved by the test (the sandbox reads the same ``shared.clock``)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, days: float = 0, **kw: float) -> None:
        self.offset += timedelta(days=days, **kw)


class SandboxTokens:
    """A token provider whose tokens the sandbox issued, so its auth gate really checks each call."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._token: str | None = None

    async def token(self, *, force_refresh: bool = False) -> str:
        if self._token is None or force_refresh:
            self._token, _ = self._store.issue_token(self._store.config.tenant_id, self._store.config.client_id)
        return self._token


def functional_settings(tmp: Path, **extra: str) -> Settings:
    """The stories' settings (tests/e2e_collections/conftest.py ``stack_settings``) on in-memory ports: the storage
    connection is never opened, SMTP is the MemoryNotifier, the Azure subscription changes land at once."""
    calendar = tmp / "calendar-overrides.yaml"
    year = datetime.now().year
    calendar.write_text(f"confirmed_years: [{year}, {year + 1}, {year + 2}]\n", encoding="utf-8")
    values: dict[str, Any] = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",  # never opened: MemoryContext has its own tables
        "CSPGUARD_PC_CLOUD": "china",
        "CSPGUARD_POLICY_FILE": str(POLICY),
        "CSPGUARD_POLICY_ARCHIVE_DIR": str(tmp / "no-archive"),
        "CSPGUARD_CALENDAR_OVERRIDES_FILE": str(calendar),
        "CSPGUARD_FRAUD_RULES_FILE": str(RULES),
        "CSPGUARD_ENFORCEMENT_ENABLED": "true",
        "CSPGUARD_MAX_SUSPENSIONS_PER_RUN": "5",
        "CSPGUARD_MAX_SUSPENSION_SHARE": "1.0",
        "CSPGUARD_PARTNER_NAME": "Example CSP Partner",
        "CSPGUARD_COLLECTIONS_CONTACT": TEAM,
        "CSPGUARD_SUPPORT_ADDRESS": SUPPORT,
        "CSPGUARD_SERVICE_REQUEST_CHANNEL": "email",
        "CSPGUARD_PC_ENTITLEMENT_POLL_SECONDS": "0.01",
        "CSPGUARD_PC_ENTITLEMENT_WAIT_SECONDS": "2",
        "CSPGUARD_SWEEP_SHARD_SIZE": "2",  # a few customers make several shards
        **extra,
    }
    return load_settings(**values)


@dataclass
class Host:
    """Delivers queued messages to the use cases their functions call (functions/*.py), as the host would."""

    world: World
    delivered: list[tuple[str, str, Any]] = field(default_factory=list)  # (queue, kind, result)

    def _parse(self, queue: Queue, envelope: Envelope | str, models: dict[str, Any]) -> tuple[Envelope, Any] | None:
        body = envelope if isinstance(envelope, str) else encode_body(envelope, "json")
        return parse_or_park(queue, body, models, self.world.ctx.deadletters, 1)

    async def deliver(self, queue: Queue, envelope: Envelope | str) -> Any:
        """One message (an envelope a use case sent, or raw text as a producer wrote it) to its use case."""
        from shared.collections import PolicyError
        from shared.services.enforcement import TRANSIENT, execute
        from shared.services.fraud import (
            FraudScanItem,
            ServiceRequestMessage,
            assess_shard,
            deliver_service_request,
            stream,
        )
        from shared.services.messages import CollectionsNotice, EnforcementRequest, SweepShard
        from shared.services.notices import deliver
        from shared.services.payments import EVENT_MODELS, LedgerError, ingest
        from shared.services.sweep import process_shard

        ctx = self.world.ctx
        by_queue: dict[Queue, dict[str, Any]] = {
            Queue.PAYMENT_EVENTS: EVENT_MODELS, Queue.SWEEP_SHARDS: {kinds.SWEEP_SHARD: SweepShard},
            Queue.ENFORCEMENT: {kinds.ENFORCEMENT: EnforcementRequest},
            Queue.NOTIFICATIONS: {kinds.NOTICE: CollectionsNotice},
            Queue.FRAUD_SCAN: {kinds.FRAUD_SCAN: FraudScanItem},
            Queue.SERVICE_REQUESTS: {kinds.SERVICE_REQUEST: ServiceRequestMessage},
        }
        models = by_queue[queue]
        parsed = self._parse(queue, envelope, models)
        if parsed is None:
            result: Any = None
        else:
            env, payload = parsed
            cid = env.correlation_id or ""
            if queue == Queue.PAYMENT_EVENTS:  # functions/payments.py payment_event
                result = None
                try:
                    result = ingest(ctx, ctx.stores, payload, correlation_id=cid, source=env.source)
                except LedgerError as exc:
                    ctx.deadletters.put(queue, encode_body(env, "json"), f"cannot apply {env.kind}: {exc}", 1)
                except PolicyError as exc:
                    ctx.deadletters.put(queue, encode_body(env, "json"),
                                        f"recorded, but the customer cannot be evaluated: {exc}", 1)
            elif queue == Queue.SWEEP_SHARDS:  # functions/collections.py collections_sweep_shard
                result = process_shard(ctx, payload)
            elif queue == Queue.ENFORCEMENT:  # enforcement_action (run_or_defer)
                result = await self._or_defer(queue, env, execute(ctx, payload, correlation_id=cid), TRANSIENT)
            elif queue == Queue.NOTIFICATIONS:  # notification (send_or_park)
                result = await self._or_park(queue, env, deliver(ctx, payload, correlation_id=cid))
            elif queue == Queue.FRAUD_SCAN:  # functions/fraud.py fraud_scan_work
                result = await (stream if payload.stage == "stream" else assess_shard)(ctx, payload)
            else:  # fraud_service_request (send_or_park)
                result = await self._or_park(queue, env, deliver_service_request(ctx, payload, correlation_id=cid))
        kind = envelope.kind if isinstance(envelope, Envelope) else "raw"
        self.delivered.append((str(queue), kind, result))
        return result

    def _defer(self, queue: Queue, env: Envelope, why: str, delay: float | None = None) -> None:
        """functions/_queue.py defer_or_park: send again later with back-off; park after MAX_DEFERRALS."""
        from shared.messaging.retry import MAX_DEFERRALS, backoff_seconds

        ctx = self.world.ctx
        if env.attempt >= MAX_DEFERRALS:
            ctx.deadletters.put(queue, encode_body(env, "json"),
                                f"still failing after {env.attempt} deferred attempts: {why}", 1)
            return
        wait = backoff_seconds(env.attempt) if delay is None else delay
        ctx.producer.send(queue, env.model_copy(update={"attempt": env.attempt + 1}), delay_seconds=max(1, int(wait)))

    async def _or_defer(self, queue: Queue, env: Envelope, work: Awaitable[Any],
                        transient: tuple[type[BaseException], ...]) -> Any:
        """functions/_queue.py run_or_defer: a live claim or a transient error waits and comes back."""
        from shared.storage.errors import StorageUnavailable
        from shared.storage.idempotency import AlreadyInProgress

        waits: tuple[type[BaseException], ...] = (*transient, StorageUnavailable)
        try:
            return await work
        except AlreadyInProgress as exc:
            self._defer(queue, env, str(exc), min(exc.retry_after.total_seconds() + 2, 30.0))
        except waits as exc:
            self._defer(queue, env, f"{type(exc).__name__}: {exc}")
        return None

    async def _or_park(self, queue: Queue, env: Envelope, send: Awaitable[Any]) -> Any:
        """functions/_queue.py send_or_park: a relay outage waits; what can never be delivered is parked."""
        from shared.notify import NotifyError
        from shared.notify.errors import DeliveryError
        from shared.storage.idempotency import AlreadyInProgress

        try:
            return await send
        except AlreadyInProgress as exc:
            self._defer(queue, env, str(exc), min(exc.retry_after.total_seconds() + 2, 30.0))
            return None
        except DeliveryError as exc:
            if exc.retryable:
                self._defer(queue, env, f"delivery failed: {exc}")
                return None
            reason = f"not deliverable: {exc}"
        except NotifyError as exc:
            reason = f"cannot render: {exc}"
        self.world.ctx.deadletters.put(queue, encode_body(env, "json"), reason, 1)
        return None

    async def run(self, *queues: Queue, rounds: int = 20) -> list[tuple[str, str, Any]]:
        """Deliver what is visible on ``queues`` (default: all), and what that sends, until they are quiet."""
        start = len(self.delivered)
        wanted = queues or tuple(Queue)
        for _ in range(rounds):
            batch = [(q, e) for q in wanted for e in self.world.ctx.queues.take(q)]
            if not batch:
                return self.delivered[start:]
            for queue, envelope in batch:
                await self.deliver(queue, envelope)
        raise AssertionError(f"queues still busy after {rounds} rounds: {self.world.ctx.queues.sent}")


@dataclass
class World:
    settings: Settings
    store: Store
    ctx: MemoryContext
    clock: MovableClock
    tmp: Path
    make_partner_center: Callable[[], PartnerCenterClient]
    host: Host = field(init=False)

    def __post_init__(self) -> None:
        self.host = Host(self)

    def reconfigure(self, **values: str) -> None:
        """Other settings (by alias) on fresh in-memory ports; call before anything is stored."""
        self.settings = functional_settings(self.tmp, **values)
        self.ctx = MemoryContext(self.settings, partner_center=self.make_partner_center)

    # ---- the sandbox (Partner Center) ---------------------------------------------------------
    def customer(self, name: str, *subscriptions: dict[str, Any]) -> tuple[str, list[str]]:
        """A sandbox customer (tenant GUID) with ``subscriptions`` (devtools.sandbox.admin.NewSubscription)."""
        created = add_customer(self.store, NewCustomer(company_name=name, subscriptions=[
            NewSubscription(**s) for s in subscriptions]))
        return created["id"], [s["id"] for s in created["subscriptions"]]

    def subscriptions(self, customer_id: str) -> dict[str, str]:
        return {s["id"]: s["status"] for s in state(self.store, customer_id)["customers"][0]["subscriptions"]}

    def azure(self, customer_id: str) -> dict[str, str]:
        """Azure subscription (entitlement) id -> status, under every Azure plan of the customer, in order."""
        return {e["id"]: e["status"] for s in state(self.store, customer_id)["customers"][0]["subscriptions"]
                for e in s["entitlements"]}

    def add_usage(self, *items: dict[str, Any]) -> None:
        add_usage(self.store, [UsageItem(**i) for i in items])

    # ---- the app --------------------------------------------------------------------------------
    def event(self, kind: str, customer_id: str, **fields: Any) -> Envelope:
        """A payment event as the partner's billing system sends it (the envelope on payment-events)."""
        from shared.services.payments import event_envelope, parse_payment_event

        payload = {"event_id": f"{kind}-{uuid.uuid4().hex[:10]}", "customer_id": customer_id,
                   "occurred_at": self.clock.now().isoformat(), **fields}
        return event_envelope(parse_payment_event(kind, payload), "billing-system")

    async def overdue_customer(self, name: str, *subscriptions: dict[str, Any], days: int = 32,
                               amount: str = "5000.00") -> tuple[str, list[str]]:
        """A customer ``days`` past due on one invoice whose final notice has been delivered (its notice period
        starts now); by default an Azure plan with two active Azure subscriptions and a disabled one, and a
        licence (out of the "suspend usage" stage's scope)."""
        subs = subscriptions or ({"kind": "azure_plan", "friendly_name": "Azure plan",
                                  "entitlements": ["active", "active", "disabled"]},
                                 {"kind": "license", "friendly_name": "Office 365 E3"})
        cid, ids = self.customer(name, *subs)
        today = self.today()
        for envelope in (
            self.event("customer.updated", cid, name=name, contact_email=f"ap@{cid[:8]}.example", language="en"),
            self.event("invoice.issued", cid, invoice_id=f"INV-{cid[:6]}", amount=amount, currency="CNY",
                       issue_date=(today - timedelta(days=days + 30)).isoformat(),
                       due_date=(today - timedelta(days=days)).isoformat()),
        ):
            await self.host.deliver(Queue.PAYMENT_EVENTS, envelope)
        await self.host.run(Queue.NOTIFICATIONS)
        assert self.ctx.stores.collections_state(cid).notices, "the final notice was not recorded"
        return cid, ids

    async def pass_days(self, days: float) -> None:
        """Time passes; then the billing system's daily export arrives (the payment feed is fresh again)."""
        self.clock.advance(days)
        await self.host.deliver(Queue.PAYMENT_EVENTS, self.event(
            "customer.updated", "00000000-0000-4000-8000-00000000feed", name="Daily export marker"))

    async def sweep(self) -> Any:
        """The sweep timer (functions/collections.py collections_sweep -> start_sweep), then its shards; returns
        the finished run."""
        from shared.services.sweep import start_sweep

        run = start_sweep(self.ctx)
        await self.host.run(Queue.SWEEP_SHARDS)
        return self.ctx.stores.runs.get(run.run_id, "run")

    def mail_for(self, customer_id: str) -> list[Any]:
        return self.mail_to(f"ap@{customer_id[:8]}.example")

    def today(self) -> date:
        return self.clock.now().date()

    def audit(self, customer_id: str, action: str | None = None) -> list[AuditEntry]:
        return [e for e in self.ctx.audit.history(customer_id) if action is None or e.action == action]

    def mail_to(self, address: str) -> list[Any]:
        return [m for m in self.ctx.notifier.emails if address in str(m["To"])]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tier opens no sockets: a use case that still reaches Azure, SMTP or a webhook directly fails here."""

    def refuse(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"functional tests open no connections (tried {address!r}): use a port of the context")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    moved = MovableClock()
    previous = clock.use(moved)
    try:
        store = Store(SandboxConfig(seed=5, customers=0, misuse_share=0, lookalike_share=0,
                                    entitlement_change_delay_seconds=0))
        app = build_app(store)

        def partner_center() -> PartnerCenterClient:
            http = httpx.AsyncClient(base_url=CHINA.base_url, transport=httpx.ASGITransport(app=app))
            return PartnerCenterClient.create(
                CHINA, SandboxTokens(store), http=http, rate_per_minute=60_000, customer_rate_per_minute=60_000,
                retry=RetryPolicy(max_attempts=3, backoff_initial=0.01, backoff_max=0.05, jitter=0.01))

        settings = functional_settings(tmp_path)
        yield World(settings, store, MemoryContext(settings, partner_center=partner_center), moved, tmp_path,
                    partner_center)
    finally:
        clock.use(previous)
