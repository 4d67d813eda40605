"""Suspend and reactivate one subscription: GET, PATCH the whole resource with the quoted etag,
re-GET to verify. A stale etag (2055) gets one re-GET and one more PATCH.
"""

from __future__ import annotations

from typing import Any

from ._errors import EtagMismatch
from ._models import AddOn, ChangeResult, Subscription, SubscriptionStatus
from ._transport import Transport, build_call

SUBSCRIPTION = "/v1/customers/{customer_id}/subscriptions/{subscription_id}"


def if_match(etag: str) -> str:
    """``If-Match`` wants the etag quoted; keep it as is when the service already quoted it."""
    etag = etag.strip()
    if etag.startswith('"') or etag.startswith('W/"'):
        return etag
    return f'"{etag}"'


def patch_body(raw: dict[str, Any], status: SubscriptionStatus) -> dict[str, Any]:
    """The whole resource as read (omitted fields may be reset) with only ``status`` changed."""
    return {**raw, "status": str(status)}


async def get_raw(transport: Transport, customer_id: str, subscription_id: str) -> dict[str, Any]:
    call = build_call("GET", SUBSCRIPTION, {"customer_id": customer_id, "subscription_id": subscription_id})
    body = await transport.json(call)
    return body if isinstance(body, dict) else {}


async def change_status(
    transport: Transport, customer_id: str, subscription_id: str, target: SubscriptionStatus
) -> ChangeResult:
    """Move one subscription to ``target`` and return what was seen before and after."""
    params = {"customer_id": customer_id, "subscription_id": subscription_id}
    raw = await get_raw(transport, customer_id, subscription_id)
    before = Subscription.model_validate(raw)
    if before.status == target:
        return ChangeResult(
            customer_id=customer_id,
            subscription_id=subscription_id,
            is_addon=before.is_addon,
            target=target,
            before=before.status,
            after=before.status,
            changed=False,
        )
    etag_retries = 0
    while True:
        etag = (raw.get("attributes") or {}).get("etag")
        headers = {"If-Match": if_match(str(etag))} if etag else {}
        call = build_call("PATCH", SUBSCRIPTION, params, json=patch_body(raw, target), headers=headers)
        try:
            await transport.send(call)
            break
        except EtagMismatch:
            if etag_retries >= 1:
                raise
            etag_retries += 1
            raw = await get_raw(transport, customer_id, subscription_id)
            if Subscription.model_validate(raw).status == target:
                break  # someone else made the change meanwhile
    after = Subscription.model_validate(await get_raw(transport, customer_id, subscription_id))
    return ChangeResult(
        customer_id=customer_id,
        subscription_id=subscription_id,
        is_addon=before.is_addon,
        target=target,
        before=before.status,
        after=after.status,
        changed=after.status != before.status,
        etag_retries=etag_retries,
    )


def addons_to_change(addons: list[AddOn], target: SubscriptionStatus) -> list[AddOn]:
    """Suspend active add-ons; reactivate suspended ones. Deleted/expired add-ons are left alone."""
    wanted_from = (
        SubscriptionStatus.ACTIVE if target == SubscriptionStatus.SUSPENDED else SubscriptionStatus.SUSPENDED
    )
    return [a for a in addons if a.status == wanted_from]
