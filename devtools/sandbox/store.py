"""The sandbox's in-memory world: portfolio, tokens, paging tokens, limits, faults, call log.

One lock guards it: the server mutates it from its event-loop thread while tests read and
poke it directly through ``Sandbox.state``.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from devtools.sandbox import resources as res
from devtools.sandbox.config import FaultConfig, SandboxConfig
from devtools.sandbox.faults import Fault, Faults
from devtools.sandbox.generator import Customer, Entitlement, Portfolio, Subscription, generate_portfolio
from devtools.sandbox.rules import (
    SUSPENSION_REASONS,
    Change,
    EntitlementView,
    SubView,
    plan_entitlement_change,
    plan_patch,
)
from devtools.sandbox.throttle import SlidingWindow
from shared.clock import FileClock, utcnow

JSON = dict[str, Any]
PAGE_TOKEN_LIMIT = 50_000
FRAUD_KINDS = ("crypto_sustained", "gpu_spike")


class ApiError(Exception):
    """An answer other than success, already shaped as Partner Center shapes it."""

    def __init__(self, status: int, body: JSON, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {body}")
        self.status, self.body, self.headers = status, body, headers or {}


@dataclass(slots=True)
class TokenRecord:
    tenant: str
    client_id: str
    expires_at: float
    delegated: bool = False  # App+User (refresh-token grant), as fraud events require


@dataclass(frozen=True, slots=True)
class PageToken:
    kind: str
    cursor: Any
    size: int
    page: int  # index of the page this token fetches


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store:
    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        # business time: the local stack's time machine when given, else the process clock
        self.now: Callable[[], datetime] = FileClock(config.clock_file).now if config.clock_file else utcnow
        self.lock = threading.RLock()
        self.tokens: dict[str, TokenRecord] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> client id (App+User consent)
        self.reset()

    # ---- lifecycle -------------------------------------------------------------------------------
    def reset(self, seed: int | None = None, customers: int | None = None) -> None:
        """A fresh world from the seed; issued access tokens stay valid."""
        cfg = self.config
        if seed is not None or customers is not None:
            self.config = cfg = cfg.model_copy(
                update={
                    "seed": cfg.seed if seed is None else seed,
                    "customers": cfg.customers if customers is None else customers,
                }
            )
        p = generate_portfolio(
            cfg.seed,
            cfg.customers,
            cfg.subscriptions_per_customer,
            cfg.usage_days,
            cfg.misuse_share,
            cfg.lookalike_share,
            cfg.usage_start or (self.now().date() - timedelta(days=cfg.usage_days)),
            partner_id=cfg.tenant_id,
            currency=cfg.currency,
            domain_suffix="partner.onmschina.cn" if cfg.cloud == "china" else "onmicrosoft.com",
        )
        with self.lock:
            self.portfolio: Portfolio = p
            self.customers: dict[str, Customer] = {}
            self.customer_order: list[str] = []
            self.subscriptions: dict[str, Subscription] = {}
            self.subs_by_customer: dict[str, list[str]] = defaultdict(list)
            self.versions: dict[str, int] = {}
            self.reasons: dict[str, list[str]] = {}
            self._index(p.customers, p.subscriptions)
            self.extra_usage: list[JSON] = []
            self.page_tokens: OrderedDict[str, PageToken] = OrderedDict()
            self.calls: deque[JSON] = deque(maxlen=cfg.call_log_limit)
            self.call_seq = 0
            self.window = SlidingWindow()
            self.faults = Faults(cfg.faults)
            self.invoices = res.invoices(cfg.seed, p.start, cfg.currency)
            self.fraud_events = self._fraud_events()

    def _index(self, customers: list[Customer], subs: list[Subscription]) -> None:
        for c in customers:
            self.customers[c.id] = c
            self.customer_order.append(c.id)
        for s in subs:
            self.subscriptions[s.id] = s
            self.subs_by_customer[s.customer_id].append(s.id)
            self.versions[s.id] = 1
            if s.status == "suspended":
                self.reasons[s.id] = list(SUSPENSION_REASONS)

    def set_faults(self, faults: FaultConfig) -> None:
        with self.lock:
            self.config = self.config.model_copy(update={"faults": faults})
            self.faults = Faults(faults)

    def update_config(self, changes: dict[str, Any]) -> None:
        with self.lock:
            self.config = self.config.model_copy(update=changes)

    # ---- auth ------------------------------------------------------------------------------------
    def issue_token(self, tenant: str, client_id: str, *, delegated: bool = False) -> tuple[str, int]:
        token = secrets.token_urlsafe(48)
        lifetime = self.config.token_lifetime_seconds
        real = self.config.faults.token_ttl_seconds or lifetime
        with self.lock:
            now = self.clock()
            self.tokens = (
                {k: v for k, v in self.tokens.items() if v.expires_at > now}
                if len(self.tokens) > 1000
                else self.tokens
            )
            self.tokens[token] = TokenRecord(tenant, client_id, now + real, delegated)
        return token, lifetime

    def consent(self, client_id: str) -> str:
        """What a user's App+User consent gives the app: a first refresh token."""
        token = "rt-" + secrets.token_urlsafe(32)
        with self.lock:
            self.refresh_tokens[token] = client_id
        return token

    def redeem_refresh_token(self, token: str, client_id: str) -> str | None:
        """A new refresh token for a valid one (each is single use: it rotates), else None."""
        with self.lock:
            if self.refresh_tokens.get(token) != client_id:
                return None
            del self.refresh_tokens[token]
            rotated = "rt-" + secrets.token_urlsafe(32)
            self.refresh_tokens[rotated] = client_id
            return rotated

    def authenticate(self, token: str) -> TokenRecord | None:
        with self.lock:
            rec = self.tokens.get(token)
            return rec if rec is not None and rec.expires_at > self.clock() else None

    def expire_tokens(self) -> int:
        with self.lock:
            n = len(self.tokens)
            self.tokens.clear()
            return n

    # ---- guards ----------------------------------------------------------------------------------
    def throttle(self, tenant: str, customer_id: str | None) -> int | None:
        cfg = self.config
        with self.lock:
            now = self.clock()
            wait = self.window.hit(
                f"p:{tenant}", cfg.rate_per_minute, now, count_rejected=cfg.throttle_counts_rejected
            )
            if wait is None and customer_id:
                wait = self.window.hit(
                    f"c:{tenant}:{customer_id.lower()}",
                    cfg.customer_rate_per_minute,
                    now,
                    count_rejected=cfg.throttle_counts_rejected,
                )
            return wait

    def next_fault(self) -> Fault:
        with self.lock:
            return self.faults.next()

    # ---- call log --------------------------------------------------------------------------------
    def log_call(self, method: str, path: str, query: str, headers: Any) -> JSON:
        with self.lock:
            self.call_seq += 1
            entry: JSON = {
                "seq": self.call_seq,
                "at": _iso(self.now()),
                "method": method,
                "path": path,
                "query": query,
                "requestId": headers.get("ms-requestid"),
                "correlationId": headers.get("ms-correlationid"),
                "contractVersion": headers.get("ms-contract-version"),
                "status": None,
                "fault": None,
            }
            self.calls.append(entry)
            return entry

    def calls_since(self, since: int) -> list[JSON]:
        with self.lock:
            return [dict(c) for c in self.calls if c["seq"] > since]

    # ---- paging tokens ---------------------------------------------------------------------------
    def new_page_token(self, kind: str, cursor: Any, size: int, page: int) -> str:
        token = secrets.token_urlsafe(96)
        with self.lock:
            self.page_tokens[token] = PageToken(kind, cursor, size, page)
            while len(self.page_tokens) > PAGE_TOKEN_LIMIT:
                self.page_tokens.popitem(last=False)
        return token

    def page_token(self, token: str | None, kind: str) -> PageToken:
        with self.lock:
            rec = self.page_tokens.get(token or "")
        if rec is None or rec.kind != kind:
            raise ApiError(
                400, res.error(400, "The MS-ContinuationToken header is missing, expired or invalid.")
            )
        return rec

    # ---- customers and subscriptions -------------------------------------------------------------
    def customer(self, customer_id: str) -> Customer:
        c = self.customers.get(customer_id.lower())
        if c is None:
            raise ApiError(404, res.error(404, f"Customer {customer_id} was not found."))
        return c

    def customer_page(self, offset: int, size: int) -> tuple[list[JSON], int | None]:
        with self.lock:
            ids = self.customer_order[offset : offset + size]
            items = [res.customer(self.customers[i]) for i in ids]
            nxt = offset + size if offset + size < len(self.customer_order) else None
        return items, nxt

    def subscription(self, customer_id: str, subscription_id: str) -> Subscription:
        self.customer(customer_id)
        s = self.subscriptions.get(subscription_id.lower())
        if s is None or s.customer_id != customer_id.lower():
            raise ApiError(404, res.error(404, f"Subscription {subscription_id} was not found."))
        return s

    def sub_json(self, s: Subscription) -> JSON:
        return res.subscription(s, self.versions[s.id], self.reasons.get(s.id, []))

    def subscription_page(self, customer_id: str, offset: int, size: int) -> tuple[list[JSON], int | None]:
        self.customer(customer_id)
        with self.lock:
            ids = self.subs_by_customer[customer_id.lower()]
            items = [self.sub_json(self.subscriptions[i]) for i in ids[offset : offset + size]]
            return items, (offset + size if offset + size < len(ids) else None)

    def addons(self, customer_id: str, subscription_id: str) -> list[JSON]:
        parent = self.subscription(customer_id, subscription_id)
        with self.lock:
            return [
                self.sub_json(self.subscriptions[i])
                for i in self.subs_by_customer[parent.customer_id]
                if self.subscriptions[i].parent_id == parent.id
            ]

    def patch_subscription(
        self, customer_id: str, subscription_id: str, body: JSON, if_match: str | None
    ) -> JSON:
        """Apply a PATCH under the documented restrictions; a new etag on each change."""
        with self.lock:
            s = self.subscription(customer_id, subscription_id)
            sent = if_match or (body.get("attributes") or {}).get("etag")
            if sent is None and self.config.require_if_match:
                raise ApiError(
                    412, res.error(412, "An If-Match header carrying the subscription's ETag is required.")
                )
            current_etag = res.etag(s.id, self.versions[s.id])
            if sent is not None and _strip_etag(sent) != current_etag:
                raise ApiError(
                    400, res.error(2055, "The resource has been modified. Please retrieve it again.")
                )
            parent = self.subscriptions.get(s.parent_id) if s.parent_id else None
            self.settle(s)
            view = SubView(
                s.status,
                s.offer.kind,
                s.friendly_name,
                s.quantity,
                s.auto_renew,
                s.offer.name,
                parent.status.lower() if parent else None,
                sum(1 for e in s.entitlements if e.status == "active" or e.pending == "active"),
            )
            outcome = plan_patch(
                view,
                body,
                reset_omitted=self.config.reset_omitted_fields,
                string_codes=self.config.string_error_codes,
            )
            if not isinstance(outcome, Change):
                raise ApiError(outcome.status, res.error(outcome.code, outcome.description))
            if outcome.changed:
                s.status, s.friendly_name = outcome.status, outcome.friendly_name
                s.quantity, s.auto_renew = outcome.quantity, outcome.auto_renew
                self.versions[s.id] += 1
                if s.status == "suspended":
                    self.reasons[s.id] = list(SUSPENSION_REASONS)
                else:
                    self.reasons.pop(s.id, None)
            return self.sub_json(s)

    def settle(self, s: Subscription) -> None:
        """Apply the accepted entitlement changes whose delay has passed (reads lag them, as Partner Center's do)."""
        now = self.clock()
        with self.lock:
            for e in s.entitlements:
                if e.pending is not None and now >= e.due:
                    e.status, e.pending = e.pending, None

    def entitlements(self, customer_id: str, subscription_id: str) -> list[JSON]:
        s = self.subscription(customer_id, subscription_id)
        with self.lock:
            self.settle(s)
            return [res.entitlement(s, e.id, e.friendly_name, e.status) for e in s.entitlements]

    def change_entitlement(
        self, customer_id: str, subscription_id: str, entitlement_id: str, action: str, body: JSON
    ) -> None:
        """Accept a cancel/reactivate (202); the new status shows after ``entitlement_change_delay_seconds``."""
        with self.lock:
            s = self.subscription(customer_id, subscription_id)
            if not self.config.entitlement_admin_agent:
                raise ApiError(403, res.error(403, "The caller must be a Global Admin with the Admin Agent role "
                                                   "to cancel or reactivate an Azure subscription."))
            self.settle(s)
            ent: Entitlement | None = next((e for e in s.entitlements if e.id == entitlement_id.lower()), None)
            if ent is None:
                raise ApiError(404, res.error(404, f"Azure subscription {entitlement_id} was not found."))
            view = EntitlementView(ent.status, ent.pending, s.offer.kind, s.status)
            outcome = plan_entitlement_change(view, action, body)
            if not isinstance(outcome, str):
                raise ApiError(outcome.status, res.error(outcome.code, outcome.description))
            ent.pending, ent.due = outcome, self.clock() + self.config.entitlement_change_delay_seconds
            if not self.config.entitlement_change_delay_seconds:
                self.settle(s)

    # ---- usage -----------------------------------------------------------------------------------
    def usage_page(self, cursor: Any, size: int) -> tuple[list[JSON], Any]:
        """Generated usage first, then items appended through the admin endpoint."""
        with self.lock:
            self._catch_up()
            if cursor is None or cursor[0] == "g":
                items, nxt = self.portfolio.usage_page(None if cursor is None else cursor[1], size)
                if nxt is not None:
                    return items, ("g", nxt)
                cursor = ("x", 0)
            else:
                items = []
            offset = cursor[1]
            room = size - len(items)
            items = items + self.extra_usage[offset : offset + room]
            end = offset + room
            return items, (("x", end) if end < len(self.extra_usage) else None)

    def _catch_up(self) -> None:
        """The usage window ends yesterday by the (possibly moved) clock: the skipped days are generated."""
        days = (self.now().date() - self.portfolio.start).days
        if days > self.portfolio.days:
            self.portfolio.days = days
            self.fraud_events = self._fraud_events()

    def add_usage(self, items: list[JSON]) -> int:
        with self.lock:
            self.extra_usage.extend(items)
            return len(self.extra_usage)

    # ---- fraud events (global cloud) -------------------------------------------------------------
    def _fraud_events(self) -> list[JSON]:
        p = self.portfolio
        out = []
        for truth in p.misuse.values():
            if truth.kind not in FRAUD_KINDS:
                continue
            sub = self.subscriptions[truth.subscription_id]
            assert sub.usage is not None
            line = sub.usage.lines[-1]
            first = (p.start + timedelta(days=truth.start_day)).isoformat() + "T06:00:00Z"
            last = (p.start + timedelta(days=p.days - 1)).isoformat() + "T06:00:00Z"
            out.append(
                {
                    "eventId": str(uuid.uuid5(uuid.NAMESPACE_OID, "fraud/" + sub.id)),
                    "partnerId": self.config.tenant_id,
                    "customerTenantId": sub.customer_id,
                    "customerName": self.customers[sub.customer_id].company_name,
                    "subscriptionId": sub.id,
                    "azureSubscriptionId": line.entitlement,
                    "subscriptionType": "Azure",
                    "entityId": str(uuid.uuid5(uuid.NAMESPACE_OID, "entity/" + sub.id)),
                    "entityName": "VirtualMachine",
                    "entityUrl": f"/subscriptions/{line.entitlement}/providers/Microsoft.Compute",
                    "hitCount": p.days - truth.start_day,
                    "eventTime": first,
                    "firstOccurrence": first,
                    "lastOccurrence": last,
                    "eventStatus": "Active",
                    "fraudEventType": "CryptoMining"
                    if truth.kind == "crypto_sustained"
                    else "AnomalousCompute",
                    "lastModifiedDate": last,
                    "attributes": {"objectType": "FraudEvent"},
                }
            )
        return out

    def set_fraud_status(
        self, subscription_id: str, status: str, event_ids: list[str] | None = None, reason: str | None = None
    ) -> list[JSON]:
        """The subscription's events (only ``event_ids`` when given) take ``status`` and ``reason``."""
        wanted = {i.lower() for i in event_ids or []}
        with self.lock:
            hit = [
                e
                for e in self.fraud_events
                if e["subscriptionId"].lower() == subscription_id.lower()
                and (not wanted or e["eventId"].lower() in wanted)
            ]
            if not hit:
                raise ApiError(404, res.error(404, f"No fraud events for subscription {subscription_id}."))
            for e in hit:
                e["eventStatus"] = status
                e["lastModifiedDate"] = _iso(self.now())
                if reason:
                    e["resolvedReason"] = reason
            return [dict(e) for e in hit]


def _strip_etag(value: str) -> str:
    v = value.strip()
    if v.startswith("W/"):
        v = v[2:]
    return v.strip('"')
