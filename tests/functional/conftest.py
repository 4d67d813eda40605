"""The functional tier's world: the use cases on ``MemoryContext`` with the real Partner Center client talking to
the sandbox app in-process (``httpx.ASGITransport``: no Azurite, no runner, no sockets).

``World.host`` (``host.py``) plays the Functions host: it takes what a use case sent (``ctx.queues.take``) and
delivers it to the use case the function in ``functions/*.py`` calls. ``World.clock`` moves the app's (and the
sandbox's) time.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
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
from shared.messaging import Envelope, Queue
from shared.partner_center import CHINA, PartnerCenterClient, RetryPolicy
from shared.settings import Settings, load_settings
from shared.storage.audit import AuditEntry
from tests.functional.host import Host

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
