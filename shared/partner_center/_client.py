"""``PartnerCenterClient``: the operations csp-guard needs, over one ``Transport``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from ._auth import AppOnlyCredential, RefreshTokenCredential, TokenProvider
from ._clouds import Capability, CloudProfile, get_profile
from ._entitlements import AzureEntitlementsMixin
from ._errors import CapabilityNotAvailable
from ._lifecycle import addons_to_change, change_status
from ._models import (
    AddOn,
    ChangeResult,
    Customer,
    FraudEvent,
    FraudEventStatus,
    Invoice,
    Subscription,
    SubscriptionStatus,
    UsageLineItem,
)
from ._pacing import Pacer
from ._retry import RetryPolicy
from ._secrets import FileSecretStore
from ._transport import Call, Transport, build_call

if TYPE_CHECKING:
    from shared.settings import Settings

# ``size`` is documented as required on GET /v1/customers; pages have been observed capped at 500.
CUSTOMER_PAGE_SIZE = 500


class PartnerCenterClient(AzureEntitlementsMixin):
    """Async Partner Center client. Use as ``async with`` or call ``aclose()``."""

    def __init__(self, profile: CloudProfile, transport: Transport) -> None:
        self.profile = profile
        self._transport = transport

    @classmethod
    def create(
        cls,
        profile: CloudProfile,
        credential: TokenProvider,
        *,
        rate_per_minute: float = 400,
        customer_rate_per_minute: float = 100,
        max_concurrency: int = 8,
        timeout: float = 30.0,
        ca_bundle: Path | None = None,
        retry: RetryPolicy | None = None,
        correlation_id: str | None = None,
        **transport_options: Any,
    ) -> Self:
        """Wire a client from parts (tests and the benchmark use this to tune retries)."""
        transport = Transport(
            profile.base_url,
            credential,
            Pacer(rate_per_minute, customer_rate_per_minute, max_in_flight=max_concurrency),
            max_concurrency=max_concurrency,
            timeout=timeout,
            ca_bundle=ca_bundle,
            retry=retry,
            correlation_id=correlation_id,
            **transport_options,
        )
        return cls(profile, transport)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Self:
        """The app's client: cloud profile, overrides (the sandbox), credentials, limits.

        App-only credentials for everything; App+User (a stored, rotating refresh token) for the
        calls documented as needing it (fraud events) when ``CSPGUARD_PC_REFRESH_TOKEN_DIR`` is set.
        """
        profile = get_profile(settings.pc_cloud).with_overrides(
            settings.pc_base_url, settings.pc_authority_host
        )
        secret = settings.pc_client_secret.get_secret_value() if settings.pc_client_secret else ""
        credential = options.pop("credential", None) or AppOnlyCredential(
            profile,
            settings.pc_tenant_id,
            settings.pc_client_id,
            secret,
            ca_bundle=settings.pc_ca_bundle,
            timeout=settings.pc_timeout_seconds,
        )
        if "user_credential" not in options and settings.pc_refresh_token_dir is not None:
            options["user_credential"] = RefreshTokenCredential(
                profile,
                settings.pc_tenant_id,
                settings.pc_client_id,
                secret,
                FileSecretStore(settings.pc_refresh_token_dir),
                ca_bundle=settings.pc_ca_bundle,
                timeout=settings.pc_timeout_seconds,
            )
        return cls.create(
            profile,
            credential,
            rate_per_minute=settings.pc_rate_per_minute,
            customer_rate_per_minute=settings.pc_customer_rate_per_minute,
            max_concurrency=settings.pc_max_concurrency,
            timeout=settings.pc_timeout_seconds,
            ca_bundle=settings.pc_ca_bundle,
            **options,
        )

    @property
    def transport(self) -> Transport:
        return self._transport

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _require(self, capability: Capability) -> None:
        if not self.profile.supports(capability):
            raise CapabilityNotAvailable(
                f"{capability.value} is not available in the {self.profile.name} Partner Center cloud"
            )

    async def _items(self, call: Call) -> AsyncIterator[dict[str, Any]]:
        async for page in self._transport.pages(call):
            for item in page.get("items") or []:
                yield item

    # Customers -------------------------------------------------------------------------------

    async def iter_customers(self, page_size: int = CUSTOMER_PAGE_SIZE) -> AsyncIterator[Customer]:
        """Every customer, page by page (``size`` is required by the service)."""
        call = build_call("GET", "/v1/customers", query={"size": page_size})
        async for item in self._items(call):
            yield Customer.model_validate(item)

    async def get_customer(self, customer_id: str) -> Customer:
        body = await self._transport.json(
            build_call("GET", "/v1/customers/{customer_id}", {"customer_id": customer_id})
        )
        return Customer.model_validate(body)

    # Subscriptions ---------------------------------------------------------------------------

    async def list_subscriptions(self, customer_id: str) -> list[Subscription]:
        call = build_call("GET", "/v1/customers/{customer_id}/subscriptions", {"customer_id": customer_id})
        return [Subscription.model_validate(item) async for item in self._items(call)]

    async def list_addons(self, customer_id: str, subscription_id: str) -> list[AddOn]:
        call = build_call(
            "GET",
            "/v1/customers/{customer_id}/subscriptions/{subscription_id}/addons",
            {"customer_id": customer_id, "subscription_id": subscription_id},
        )
        return [AddOn.model_validate(item) async for item in self._items(call)]

    async def get_subscription(self, customer_id: str, subscription_id: str) -> Subscription:
        call = build_call(
            "GET",
            "/v1/customers/{customer_id}/subscriptions/{subscription_id}",
            {"customer_id": customer_id, "subscription_id": subscription_id},
        )
        return Subscription.model_validate(await self._transport.json(call))

    async def suspend(
        self, customer_id: str, subscription_id: str, *, include_addons: bool = True
    ) -> list[ChangeResult]:
        """Suspend the subscription, then its active add-ons explicitly. One result per subscription."""
        return await self._set_status(
            customer_id, subscription_id, SubscriptionStatus.SUSPENDED, include_addons
        )

    async def reactivate(
        self, customer_id: str, subscription_id: str, *, include_addons: bool = True
    ) -> list[ChangeResult]:
        """Reactivate the subscription first (add-ons refuse while it is not active: 27009), then add-ons."""
        return await self._set_status(customer_id, subscription_id, SubscriptionStatus.ACTIVE, include_addons)

    async def _set_status(
        self, customer_id: str, subscription_id: str, target: SubscriptionStatus, include_addons: bool
    ) -> list[ChangeResult]:
        parent = await change_status(self._transport, customer_id, subscription_id, target)
        results = [parent]
        if include_addons and parent.ok and not parent.is_addon:
            addons = await self.list_addons(customer_id, subscription_id)
            for addon in addons_to_change(addons, target):
                results.append(await change_status(self._transport, customer_id, addon.id, target))
        return results

    # Billing and usage -----------------------------------------------------------------------

    async def unbilled_usage_pages(
        self, currency: str = "CNY", page_size: int = 2000, period: str = "current"
    ) -> AsyncIterator[list[UsageLineItem]]:
        """Partner-wide unbilled daily-rated usage, one page at a time (never all in memory)."""
        call = build_call(
            "GET",
            "/v1/invoices/unbilled/lineitems",
            query={
                "provider": "onetime",
                "invoicelineitemtype": "usagelineitems",
                "currencycode": currency,
                "period": period,
                "size": page_size,
            },
        )
        async for page in self._transport.pages(call):
            yield [UsageLineItem.model_validate(item) for item in page.get("items") or []]

    async def unbilled_usage(
        self, currency: str = "CNY", page_size: int = 2000, period: str = "current"
    ) -> AsyncIterator[UsageLineItem]:
        async for page in self.unbilled_usage_pages(currency, page_size, period):
            for item in page:
                yield item

    async def list_invoices(self) -> list[Invoice]:
        return [Invoice.model_validate(item) async for item in self._items(build_call("GET", "/v1/invoices"))]

    # Global cloud only -----------------------------------------------------------------------

    async def list_fraud_events(
        self, status: FraudEventStatus | str | None = None, subscription_id: str | None = None
    ) -> list[FraudEvent]:
        """Fraud events (global cloud; App+User authentication), served as a bare array or a collection."""
        self._require(Capability.FRAUD_EVENTS)
        query = {"EventStatus": str(FraudEventStatus(status))} if status else {}
        if subscription_id:
            query["SubscriptionId"] = subscription_id
        call = build_call("GET", "/v1/fraudEvents", query=query or None, app_plus_user=True)
        return [FraudEvent.model_validate(item) async for item in self._items(call)]

    async def update_fraud_event_status(
        self,
        subscription_id: str,
        status: FraudEventStatus | str,
        *,
        event_ids: list[str] | None = None,
        resolved_reason: str | None = None,
    ) -> list[FraudEvent]:
        """Set the status of a subscription's fraud events (``event_ids``, else all of them), with the
        ``resolved_reason`` when there is one; returns the events as updated."""
        self._require(Capability.FRAUD_EVENTS)
        body: dict[str, Any] = {"EventStatus": str(FraudEventStatus(status))}
        if event_ids:
            body["EventIds"] = list(event_ids)
        if resolved_reason:
            body["ResolvedReason"] = resolved_reason
        call = build_call(
            "POST",
            "/v1/fraudEvents/subscription/{subscription_id}/status",
            {"subscription_id": subscription_id},
            json=body,
            app_plus_user=True,
        )
        body_out = await self._transport.json(call)
        items = body_out.get("items", []) if isinstance(body_out, dict) else body_out or []
        return [FraudEvent.model_validate(item) for item in items]
