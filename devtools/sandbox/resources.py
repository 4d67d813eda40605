"""JSON shapes of Partner Center resources (camelCase, attributes.objectType): pure functions."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date, timedelta
from typing import Any

from devtools.sandbox.generator import Customer, Subscription

JSON = dict[str, Any]


def link(uri: str, headers: list[dict[str, str]] | None = None) -> JSON:
    return {"uri": uri, "method": "GET", "headers": headers or []}


def etag(subscription_id: str, version: int) -> str:
    """Opaque like Partner Center's: base64 of the resource id and a version counter."""
    raw = json.dumps({"id": subscription_id, "version": version}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def error(code: int | str, description: str, data: list[Any] | None = None) -> JSON:
    return {"code": code, "description": description, "data": data or [], "source": "PartnerFD"}


def throttled(retry_after: int) -> JSON:
    return {"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {retry_after} seconds."}


def collection(items: list[JSON], self_uri: str, next_link: JSON | None = None) -> JSON:
    """``totalCount`` is the number of items in this page: stop on a missing ``links.next``."""
    links: JSON = {"self": link(self_uri)}
    if next_link is not None:
        links["next"] = next_link
    return {
        "totalCount": len(items),
        "items": items,
        "links": links,
        "attributes": {"objectType": "Collection"},
    }


def customer(c: Customer) -> JSON:
    return {
        "id": c.id,
        "commerceId": str(uuid.uuid5(uuid.NAMESPACE_URL, c.id)),
        "companyProfile": {
            "tenantId": c.id,
            "domain": c.default_domain,
            "companyName": c.company_name,
            "links": {"self": link(f"/customers/{c.id}/profiles/company")},
            "attributes": {"objectType": "CustomerCompanyProfile"},
        },
        "billingProfile": {
            "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, c.id)),
            "companyName": c.company_name,
            "defaultAddress": {"country": c.country, "city": c.city},
            "attributes": {"objectType": "CustomerBillingProfile"},
        },
        "relationshipToPartner": "reseller",
        "allowDelegatedAccess": True,
        "links": {"self": link(f"/customers/{c.id}")},
        "attributes": {"objectType": "Customer"},
    }


def _iso(d: date) -> str:
    return d.isoformat() + "T00:00:00Z"


def subscription(s: Subscription, version: int, reasons: list[str]) -> JSON:
    licence = s.offer.billing_type == "license"
    out: JSON = {
        "id": s.id,
        "entitlementId": s.id if s.offer.kind != "azure_plan" else str(uuid.uuid5(uuid.NAMESPACE_OID, s.id)),
        "offerId": s.offer.offer_id,
        "offerName": s.offer.name,
        "friendlyName": s.friendly_name,
        "quantity": s.quantity,
        "unitType": s.offer.unit_type,
        "hasPurchasableAddons": s.offer.kind == "license",
        "creationDate": _iso(s.creation),
        "effectiveStartDate": _iso(s.creation),
        "commitmentEndDate": _iso(s.creation + timedelta(days=365)) if licence else "9999-12-14T00:00:00Z",
        "status": s.status,
        "autoRenewEnabled": s.auto_renew,
        "isTrial": False,
        "billingType": s.offer.billing_type,
        "billingCycle": "monthly" if licence else "none",
        "termDuration": "P1Y" if licence else None,
        "isMicrosoftProduct": True,
        "partnerId": "",
        "contractType": "subscription",
        "orderId": str(uuid.uuid5(uuid.NAMESPACE_URL, "order/" + s.id)),
        "publisherName": "Microsoft",
        "productType": {"id": "Azure", "displayName": "Azure"} if not licence else {"id": "OnlineServices"},
        "links": {
            "offer": link(f"/offers/{s.offer.offer_id}"),
            "self": link(f"/customers/{s.customer_id}/subscriptions/{s.id}"),
        },
        "attributes": {"etag": etag(s.id, version), "objectType": "Subscription"},
    }
    if s.parent_id:
        out["parentSubscriptionId"] = s.parent_id
        out["links"]["parent"] = link(f"/customers/{s.customer_id}/subscriptions/{s.parent_id}")
    if reasons:
        out["suspensionReasons"] = list(reasons)
    return out


def entitlement(s: Subscription, e_id: str, name: str, status: str) -> JSON:
    return {
        "id": e_id,
        "friendlyName": name,
        "status": status,
        "subscriptionId": s.id,
        "attributes": {"objectType": "AzureEntitlement"},
    }


def invoices(seed: int, start: date, currency: str, months: int = 3) -> list[JSON]:
    """Monthly partner invoices before ``start``; amounts derived from the seed."""
    out = []
    first = start.replace(day=1)
    for k in range(months, 0, -1):
        month = first
        for _ in range(k):
            month = (month - timedelta(days=1)).replace(day=1)
        amount = round(50_000 + (uuid.uuid5(uuid.NAMESPACE_OID, f"{seed}/{month}").int % 5_000_000) / 100, 2)
        inv_id = f"G{(seed * 7919 + month.year * 12 + month.month) % 10**9:09d}"
        out.append(
            {
                "id": inv_id,
                "invoiceDate": _iso((month + timedelta(days=32)).replace(day=8)),
                "billingPeriodStartDate": _iso(month),
                "billingPeriodEndDate": _iso((month + timedelta(days=32)).replace(day=1) - timedelta(days=1)),
                "totalCharges": amount,
                "paidAmount": amount if k > 1 else 0.0,
                "currencyCode": currency,
                "currencySymbol": "¥" if currency == "CNY" else "$",
                "pdfDownloadLink": f"/invoices/{inv_id}/documents/statement",
                "documentType": "invoice",
                "invoiceType": "Recurring",
                "amendments": [],
                "invoiceDetails": [
                    {
                        "invoiceLineItemType": "BillingLineItems",
                        "billingProvider": "Azure",
                        "links": {"self": link(f"/invoices/{inv_id}/lineitems/Azure/BillingLineItems")},
                        "attributes": {"objectType": "InvoiceDetail"},
                    }
                ],
                "links": {"self": link(f"/invoices/{inv_id}")},
                "attributes": {"objectType": "Invoice"},
            }
        )
    return out
