"""Bodies and operations of the /_sandbox admin endpoints (no auth: loopback test tooling)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from devtools.sandbox import catalog as cat
from devtools.sandbox.generator import Customer, Entitlement, Line, Subscription, UsageProfile
from devtools.sandbox.resources import error
from devtools.sandbox.rules import SUSPENSION_REASONS
from devtools.sandbox.store import ApiError, Store

OFFERS = {"azure_plan": cat.AZURE_PLAN, "azure_legacy": cat.AZURE_LEGACY, "license": cat.LICENSES[1]}


class NewSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["azure_plan", "azure_legacy", "license", "addon"] = "license"
    id: str | None = None
    status: str = "active"
    quantity: int = Field(default=1, ge=1)
    friendly_name: str | None = None
    parent: int | None = None  # index, in this list, of an add-on's base subscription
    entitlements: list[str] = Field(default_factory=list)  # statuses of an Azure plan's Azure subscriptions
    daily_usage_units: float | None = Field(default=None, gt=0)  # scale of a D2 v3 line, Azure kinds only
    created_days_ago: int | None = Field(default=None, ge=0, le=3650)  # creationDate (default: 90 days before usage)


class NewCustomer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    company_name: str
    country: str = "CN"
    city: str = "Shanghai"
    domain: str | None = None
    subscriptions: list[NewSubscription] = Field(default_factory=list)


class UsageItem(BaseModel):
    """One appended line item; fields not listed are kept verbatim."""

    model_config = ConfigDict(extra="allow")

    customerId: str
    subscriptionId: str
    usageDate: str
    meterCategory: str
    meterName: str
    quantity: float
    unitPrice: float


class SubscriptionTweak(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str | None = None
    entitlements: str | None = None  # set every Azure subscription of a plan to this status


def add_customer(store: Store, spec: NewCustomer) -> dict[str, Any]:
    cid = (spec.id or str(uuid.uuid4())).lower()
    if cid in store.customers:
        raise ApiError(409, error(409, f"Customer {cid} already exists."))
    slug = "".join(ch for ch in spec.company_name.lower() if ch.isalnum())[:20] or "customer"
    cust = Customer(
        cid, spec.company_name, spec.country, spec.city, spec.domain or f"{slug}.partner.onmschina.cn"
    )
    start: date = store.portfolio.start
    subs: list[Subscription] = []
    for k, ns in enumerate(spec.subscriptions):
        offer = cat.ADDONS[0] if ns.kind == "addon" else OFFERS[ns.kind]
        sid = (ns.id or str(uuid.uuid4())).lower()
        parent_id = None
        if ns.kind == "addon":
            if ns.parent is None or not 0 <= ns.parent < k:
                raise ApiError(
                    400, error(400, "An add-on needs 'parent': the index of an earlier subscription.")
                )
            parent_id = subs[ns.parent].id
        sub = Subscription(
            sid,
            cid,
            offer,
            ns.status,
            ns.quantity,
            start - timedelta(days=90) if ns.created_days_ago is None
            else start + timedelta(days=store.portfolio.days - ns.created_days_ago),
            ns.friendly_name or offer.name,
            parent_id=parent_id,
        )
        sub.entitlements = [
            Entitlement(str(uuid.uuid4()), f"Azure subscription {i + 1}", st)
            for i, st in enumerate(ns.entitlements)
        ]
        if ns.daily_usage_units and ns.kind in ("azure_plan", "azure_legacy"):
            ent = sub.entitlements[0].id if sub.entitlements else sid
            sub.usage = UsageProfile(uuid.UUID(sid).int >> 65, [Line(0, 0, ns.daily_usage_units, ent)])
        subs.append(sub)
    with store.lock:
        store.portfolio.add(cust, subs)
        store._index([cust], subs)
    return {"id": cid, "subscriptions": [store.sub_json(s) for s in subs]}


def add_usage(store: Store, items: list[UsageItem]) -> int:
    cfg = store.config
    out = []
    for it in items:
        data = it.model_dump()
        cust = store.customers.get(it.customerId.lower())
        total = round(it.quantity * it.unitPrice, 2)
        data.setdefault("partnerId", cfg.tenant_id)
        data.setdefault("customerName", cust.company_name if cust else "")
        data.setdefault("billingPreTaxTotal", total)
        data.setdefault("pricingPreTaxTotal", total)
        data.setdefault("billingCurrency", cfg.currency)
        data.setdefault("pricingCurrency", cfg.currency)
        data.setdefault("chargeType", "new")
        data.setdefault("invoiceLineItemType", "usagelineitems")
        data.setdefault("attributes", {"objectType": "DailyRatedUsageLineItem"})
        out.append(data)
    return store.add_usage(out)


def tweak_subscription(store: Store, subscription_id: str, tweak: SubscriptionTweak) -> dict[str, Any]:
    """Change what the API would not let a client change (e.g. disable Azure subscriptions)."""
    with store.lock:
        s = store.subscriptions.get(subscription_id.lower())
        if s is None:
            raise ApiError(404, error(404, f"Subscription {subscription_id} was not found."))
        if tweak.entitlements is not None:
            for e in s.entitlements:
                e.status, e.pending = tweak.entitlements, None
        if tweak.status is not None:
            s.status = tweak.status
            if tweak.status == "suspended":
                store.reasons[s.id] = list(SUSPENSION_REASONS)
            else:
                store.reasons.pop(s.id, None)
        store.versions[s.id] += 1
        return store.sub_json(s)


def _sub_state(store: Store, s: Subscription) -> dict[str, Any]:
    store.settle(s)
    return {
        "id": s.id,
        "offerName": s.offer.name,
        "kind": s.offer.kind,
        "status": s.status,
        "etag": store.sub_json(s)["attributes"]["etag"],
        "parentSubscriptionId": s.parent_id,
        "suspensionReasons": store.reasons.get(s.id, []),
        "entitlements": [
            {"id": e.id, "friendlyName": e.friendly_name, "status": e.status, "pending": e.pending}
            for e in s.entitlements
        ],
    }


def state(store: Store, customer: str | None = None, limit: int = 1000) -> dict[str, Any]:
    with store.lock:
        by_status: dict[str, int] = {}
        for s in store.subscriptions.values():
            by_status[s.status] = by_status.get(s.status, 0) + 1
        ids = [customer.lower()] if customer else store.customer_order[:limit]
        if customer and customer.lower() not in store.customers:
            raise ApiError(404, error(404, f"Customer {customer} was not found."))
        listing = [
            {
                "id": cid,
                "companyName": store.customers[cid].company_name,
                "subscriptions": [
                    _sub_state(store, store.subscriptions[sid]) for sid in store.subs_by_customer[cid]
                ],
            }
            for cid in ids
        ]
        return {
            "seed": store.config.seed,
            "cloud": store.config.cloud,
            "counts": {
                "customers": len(store.customers),
                "subscriptions": len(store.subscriptions),
                "byStatus": by_status,
                "extraUsageItems": len(store.extra_usage),
                "calls": store.call_seq,
            },
            "customers": listing,
            "truncated": not customer and len(store.customer_order) > limit,
        }


def truth(store: Store) -> dict[str, Any]:
    p = store.portfolio
    return {
        "start": p.start.isoformat(),
        "days": p.days,
        "misuse": {
            k: {
                "kind": t.kind,
                "customerId": t.customer_id,
                "subscriptionId": t.subscription_id,
                "startDay": t.start_day,
            }
            for k, t in p.misuse.items()
        },
        "lookalikes": dict(p.lookalikes),
    }
