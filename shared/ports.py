"""The ports every use case in ``shared/services`` receives: what a service may touch, and nothing else.

Services are written against ``Ports`` (a Protocol), never against Azure: ``shared.context.AppContext`` wires
the Azure adapters (Tables, Queues, the Partner Center client from settings) and ``shared.memory.MemoryContext``
the in-memory twins (dictionaries, a recording publisher, any Partner Center client, e.g. one over the
sandbox app in-process). The repositories (``Stores``, ``FraudStores``) are built once by whichever root
composes them, over the ``Tables`` port, so the same repository code runs on both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shared.messaging.ports import PoisonQueues, Publisher
    from shared.notify.notifier import Notifier
    from shared.partner_center import (
        AddOn,
        AzureEntitlement,
        ChangeResult,
        Customer,
        EntitlementChange,
        FraudEvent,
        FraudEventStatus,
        Subscription,
        UsageLineItem,
    )
    from shared.services.fraud.store import FraudStores
    from shared.services.state import Stores
    from shared.settings import Settings
    from shared.storage.audit import AuditEntry
    from shared.storage.deadletters import DeadLetterStore
    from shared.storage.idempotency import IdempotencyStore


class AuditTrail(Protocol):
    """Append-only who/what/why/when, newest first per customer (``shared.storage.audit.AuditLog``)."""

    def record(self, entry: AuditEntry) -> None: ...

    def history(self, customer_id: str, limit: int = 100) -> list[AuditEntry]: ...


class PartnerCenter(Protocol):
    """The Partner Center calls the use cases make (``shared.partner_center.PartnerCenterClient``)."""

    def iter_customers(self, page_size: int = ...) -> AsyncIterator[Customer]: ...

    async def get_customer(self, customer_id: str) -> Customer: ...

    async def list_subscriptions(self, customer_id: str) -> list[Subscription]: ...

    async def get_subscription(self, customer_id: str, subscription_id: str) -> Subscription: ...

    async def list_addons(self, customer_id: str, subscription_id: str) -> list[AddOn]: ...

    async def suspend(self, customer_id: str, subscription_id: str, *,
                      include_addons: bool = True) -> list[ChangeResult]: ...

    async def reactivate(self, customer_id: str, subscription_id: str, *,
                         include_addons: bool = True) -> list[ChangeResult]: ...

    async def list_azure_entitlements(self, customer_id: str, subscription_id: str) -> list[AzureEntitlement]: ...

    async def get_azure_entitlement(self, customer_id: str, subscription_id: str,
                                    entitlement_id: str) -> AzureEntitlement | None: ...

    async def cancel_azure_entitlement(self, customer_id: str, subscription_id: str, entitlement_id: str, *,
                                       reason: str, wait: float = ..., poll_interval: float = ...
                                       ) -> EntitlementChange: ...

    async def reactivate_azure_entitlement(self, customer_id: str, subscription_id: str, entitlement_id: str, *,
                                           wait: float = ..., poll_interval: float = ...) -> EntitlementChange: ...

    def unbilled_usage_pages(self, currency: str = ..., page_size: int = ...,
                             period: str = ...) -> AsyncIterator[list[UsageLineItem]]: ...

    async def list_fraud_events(self, status: FraudEventStatus | str | None = None,
                                subscription_id: str | None = None) -> list[FraudEvent]: ...


class Ports(Protocol):
    """What a use case receives. Attributes are read-only (the roots build them lazily or up front)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def stores(self) -> Stores: ...

    @property
    def fraud(self) -> FraudStores: ...

    @property
    def audit(self) -> AuditTrail: ...

    @property
    def idempotency(self) -> IdempotencyStore: ...

    @property
    def deadletters(self) -> DeadLetterStore: ...

    @property
    def producer(self) -> Publisher: ...

    @property
    def poison(self) -> PoisonQueues: ...

    @property
    def notifier(self) -> Notifier: ...

    def partner_center(self) -> PartnerCenter: ...


__all__ = ["AuditTrail", "PartnerCenter", "Ports"]
