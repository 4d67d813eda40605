"""Async client for Partner Center (21Vianet by default, or global), built for csp-guard.

Public surface: ``PartnerCenterClient`` (``from_settings``; Azure subscriptions under Azure plans with
``list_azure_entitlements`` / ``cancel_azure_entitlement`` / ``reactivate_azure_entitlement``), cloud
profiles, credentials and secret stores, resource models, and the error tree below. Everything else is private.

Errors (every one carries ``code`` (str), ``description``, ``status``, ``request_id``,
``correlation_id``; ``retry_after`` on throttling)::

    PartnerCenterError
    ├── AuthError                  401, token acquisition refused or misconfigured
    │   └── PermissionDenied       403 without a restriction code
    ├── CapabilityNotAvailable     feature absent from this cloud (fraud events in 21Vianet)
    ├── RequestError               other 4xx: never retried
    │   ├── NotFound               404
    │   ├── Conflict               409
    │   │   └── EtagMismatch       2055 / 412: re-GET and retry once (done by suspend/reactivate)
    │   └── RestrictionError       800091, 27009, 900115, 2011, 800082 (``code`` says which)
    ├── Throttled                  429 for longer than RetryPolicy.max_throttled_seconds
    ├── ServerError                5xx / 408 after every retry
    └── TransportError             network failure or timeout after every retry
"""

from ._auth import AppOnlyCredential, RefreshTokenCredential, TokenProvider
from ._client import PartnerCenterClient
from ._clouds import CHINA, CLOUDS, GLOBAL, Capability, CloudProfile, get_profile
from ._entitlements import AzureEntitlement, AzureEntitlementStatus, EntitlementChange
from ._errors import (
    AuthError,
    CapabilityNotAvailable,
    Codes,
    Conflict,
    EtagMismatch,
    NotFound,
    PartnerCenterError,
    PermissionDenied,
    RequestError,
    RestrictionError,
    ServerError,
    Throttled,
    TransportError,
)
from ._headers import CONTRACT_VERSION, correlation, ms_correlation_id
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
from ._retry import RetryPolicy
from ._secrets import FileSecretStore, InMemorySecretStore, SecretStore

__all__ = [
    "CHINA",
    "CLOUDS",
    "CONTRACT_VERSION",
    "GLOBAL",
    "AddOn",
    "AppOnlyCredential",
    "AuthError",
    "AzureEntitlement",
    "AzureEntitlementStatus",
    "Capability",
    "CapabilityNotAvailable",
    "ChangeResult",
    "CloudProfile",
    "Codes",
    "Conflict",
    "Customer",
    "EntitlementChange",
    "EtagMismatch",
    "FileSecretStore",
    "FraudEvent",
    "FraudEventStatus",
    "InMemorySecretStore",
    "Invoice",
    "NotFound",
    "PartnerCenterClient",
    "PartnerCenterError",
    "PermissionDenied",
    "RefreshTokenCredential",
    "RequestError",
    "RestrictionError",
    "RetryPolicy",
    "SecretStore",
    "ServerError",
    "Subscription",
    "SubscriptionStatus",
    "Throttled",
    "TokenProvider",
    "TransportError",
    "UsageLineItem",
    "correlation",
    "get_profile",
    "ms_correlation_id",
]
