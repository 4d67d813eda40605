"""Azure subscriptions (entitlements) under an Azure plan: list, cancel, reactivate, each verified.

An Azure plan can't be suspended while any Azure subscription under it is active (900115); these are the
documented per-Azure-subscription controls (21Vianet included; the caller needs Global Admin + Admin Agent).
Cancel and reactivate answer 202 and take effect asynchronously, so every change is followed by reads of the
collection until it shows the wanted status or the bounded wait ends: the result states what Partner Center
showed last, never what was asked for.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ._models import OpenStrEnum, PcModel
from ._transport import Transport, build_call

ENTITLEMENTS = "/v1/customers/{customer_id}/subscriptions/{subscription_id}/azureEntitlements"
ENTITLEMENT_ACTION = ENTITLEMENTS + "/{entitlement_id}/{action}"
EntitlementAction = Literal["cancel", "reactivate"]


class AzureEntitlementStatus(OpenStrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # what a cancelled Azure subscription shows (reversible for a limited period)
    DELETED = "deleted"
    UNKNOWN = "unknown"  # Partner Center did not say: never taken as disabled (nor as active)


class AzureEntitlement(PcModel):
    """One Azure subscription under the Azure plan ``subscription_id`` (``entitlementId`` in usage lines)."""

    id: str
    friendly_name: str | None = None
    status: AzureEntitlementStatus = AzureEntitlementStatus.UNKNOWN
    subscription_id: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status == AzureEntitlementStatus.ACTIVE

    @property
    def is_off(self) -> bool:
        """Partner Center shows it disabled or deleted (an unknown status is not off: it may be running)."""
        return self.status in (AzureEntitlementStatus.DISABLED, AzureEntitlementStatus.DELETED)


class EntitlementChange(BaseModel):
    """What one cancel/reactivate did, as read back from Partner Center (returned, not only logged)."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    subscription_id: str  # the Azure plan
    entitlement_id: str
    name: str = ""
    action: EntitlementAction
    before: AzureEntitlementStatus | None  # None: the Azure subscription was not found
    after: AzureEntitlementStatus | None  # the last status read, when the change showed or the wait ended
    requested: bool  # the change was sent and accepted (202)
    waited_seconds: float = 0.0

    @property
    def target(self) -> AzureEntitlementStatus:
        return AzureEntitlementStatus.DISABLED if self.action == "cancel" else AzureEntitlementStatus.ACTIVE

    @property
    def ok(self) -> bool:
        """True when the last read shows the wanted state (cancel: anything but active or unknown)."""
        if self.after is None or self.after == AzureEntitlementStatus.UNKNOWN:
            return False
        active = self.after == AzureEntitlementStatus.ACTIVE
        return not active if self.action == "cancel" else active

    @property
    def changed(self) -> bool:
        return self.requested and self.ok


async def list_entitlements(transport: Transport, customer_id: str, subscription_id: str) -> list[AzureEntitlement]:
    call = build_call("GET", ENTITLEMENTS, {"customer_id": customer_id, "subscription_id": subscription_id})
    return [AzureEntitlement.model_validate(item) async for page in transport.pages(call)
            for item in page.get("items") or []]


async def read_entitlement(transport: Transport, customer_id: str, subscription_id: str,
                           entitlement_id: str) -> AzureEntitlement | None:
    """The Azure subscription as Partner Center shows it now (None: not under this plan)."""
    wanted = entitlement_id.lower()
    found = await list_entitlements(transport, customer_id, subscription_id)
    return next((e for e in found if e.id.lower() == wanted), None)


async def change_entitlement(transport: Transport, customer_id: str, subscription_id: str, entitlement_id: str,
                             action: EntitlementAction, *, reason: str = "", wait: float = 60.0,
                             poll_interval: float = 0.5) -> EntitlementChange:
    """Cancel or reactivate one Azure subscription, then poll until the read-back shows it or ``wait`` ends.

    Already in the wanted state: nothing is sent. A refusal propagates as the mapped error (the caller reads
    back and records what Partner Center says).
    """
    def result(before: AzureEntitlement | None, after: AzureEntitlement | None, requested: bool,
               waited: float = 0.0) -> EntitlementChange:
        seen = after or before
        return EntitlementChange(customer_id=customer_id, subscription_id=subscription_id,
                                 entitlement_id=entitlement_id, name=(seen.friendly_name if seen else "") or "",
                                 action=action, before=before.status if before else None,
                                 after=after.status if after else None, requested=requested,
                                 waited_seconds=round(waited, 3))

    before = await read_entitlement(transport, customer_id, subscription_id, entitlement_id)
    if before is None:
        return result(None, None, False)
    done = result(before, before, False)
    if done.ok:
        return done
    params = {"customer_id": customer_id, "subscription_id": subscription_id, "entitlement_id": entitlement_id,
              "action": action}
    body = {"cancellationReason": reason or "suspended by the partner"} if action == "cancel" else None
    await transport.send(build_call("POST", ENTITLEMENT_ACTION, params, json=body))
    start = time.monotonic()
    interval = max(poll_interval, 0.01)
    after: AzureEntitlement | None = before
    while True:
        await asyncio.sleep(min(interval, max(wait - (time.monotonic() - start), 0)))
        after = await read_entitlement(transport, customer_id, subscription_id, entitlement_id)
        current = result(before, after, True, time.monotonic() - start)
        if current.ok or after is None or time.monotonic() - start >= wait:
            return current
        interval = min(interval * 1.5, 10.0)


class AzureEntitlementsMixin:
    """The client's Azure subscription operations (mixed into ``PartnerCenterClient``)."""

    _transport: Transport

    async def list_azure_entitlements(self, customer_id: str, subscription_id: str) -> list[AzureEntitlement]:
        """Every Azure subscription under the Azure plan ``subscription_id`` (empty for other subscriptions)."""
        return await list_entitlements(self._transport, customer_id, subscription_id)

    async def get_azure_entitlement(self, customer_id: str, subscription_id: str,
                                    entitlement_id: str) -> AzureEntitlement | None:
        return await read_entitlement(self._transport, customer_id, subscription_id, entitlement_id)

    async def cancel_azure_entitlement(self, customer_id: str, subscription_id: str, entitlement_id: str, *,
                                       reason: str, wait: float = 60.0,
                                       poll_interval: float = 0.5) -> EntitlementChange:
        """Disable one Azure subscription (documented as cancel; treat as reversible for a limited period)."""
        return await change_entitlement(self._transport, customer_id, subscription_id, entitlement_id, "cancel",
                                        reason=reason, wait=wait, poll_interval=poll_interval)

    async def reactivate_azure_entitlement(self, customer_id: str, subscription_id: str, entitlement_id: str, *,
                                           wait: float = 60.0, poll_interval: float = 0.5) -> EntitlementChange:
        """Reactivate one cancelled Azure subscription (its Azure plan must be active first)."""
        return await change_entitlement(self._transport, customer_id, subscription_id, entitlement_id,
                                        "reactivate", wait=wait, poll_interval=poll_interval)
