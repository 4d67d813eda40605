from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import shared.partner_center as pc
from shared.partner_center import (
    CHINA,
    GLOBAL,
    Capability,
    ChangeResult,
    Customer,
    FraudEventStatus,
    Subscription,
    SubscriptionStatus,
    get_profile,
)


@given(st.text(min_size=1, max_size=20))
def test_any_status_string_is_accepted_and_round_trips(value: str) -> None:
    sub = Subscription.model_validate({"id": "s", "status": value})
    assert sub.status == value or sub.status.value == value.lower()
    assert isinstance(sub.status, SubscriptionStatus)


def test_known_statuses_match_case_insensitively() -> None:
    assert (
        Subscription.model_validate({"id": "s", "status": "Suspended"}).status is SubscriptionStatus.SUSPENDED
    )
    assert FraudEventStatus("resolved") is FraudEventStatus.RESOLVED
    odd = SubscriptionStatus("frozen")
    assert not odd.is_known and SubscriptionStatus.DISABLED.is_known


def test_extra_fields_and_camel_case() -> None:
    c = Customer.model_validate(
        {
            "id": "c",
            "companyProfile": {"companyName": "Contoso", "newThing": 1},
            "brandNew": [1],
            "attributes": {},
        }
    )
    assert c.name == "Contoso" and c.model_extra == {"brandNew": [1]}
    s = Subscription.model_validate({"id": "s", "parentSubscriptionId": "p", "attributes": {"etag": "E"}})
    assert s.is_addon and s.etag == "E"


def test_change_result_ok() -> None:
    r = ChangeResult(
        customer_id="c",
        subscription_id="s",
        target="suspended",
        before="active",
        after="active",
        changed=False,
    )
    assert not r.ok


def test_profiles() -> None:
    assert get_profile("China") is CHINA
    assert not CHINA.supports(Capability.FRAUD_EVENTS) and GLOBAL.supports(Capability.FRAUD_EVENTS)
    local = CHINA.with_overrides("https://127.0.0.1:9/", "https://127.0.0.1:9")
    assert local.base_url == "https://127.0.0.1:9" and not local.known_authority
    assert local.app_scope == CHINA.app_scope
    assert local.authority("tid") == "https://127.0.0.1:9/tid"
    assert CHINA.with_overrides(None, None).known_authority


SURFACE = {
    "AddOn", "AppOnlyCredential", "AuthError", "AzureEntitlement", "AzureEntitlementStatus", "CHINA", "CLOUDS",
    "CONTRACT_VERSION", "Capability", "CapabilityNotAvailable", "ChangeResult", "CloudProfile", "Codes", "Conflict",
    "Customer", "EntitlementChange", "EtagMismatch", "FileSecretStore", "FraudEvent", "FraudEventStatus", "GLOBAL",
    "InMemorySecretStore", "Invoice", "NotFound", "PartnerCenterClient", "PartnerCenterError", "PermissionDenied",
    "RefreshTokenCredential", "RequestError", "RestrictionError", "RetryPolicy", "SecretStore", "ServerError",
    "Subscription", "SubscriptionStatus", "Throttled", "TokenProvider", "TransportError", "UsageLineItem",
    "correlation", "get_profile", "ms_correlation_id",
}


def test_public_surface_is_small_and_importable() -> None:
    # pinned: a name added to or dropped from the client's surface is a deliberate change made here too
    assert set(pc.__all__) == SURFACE and len(pc.__all__) == len(SURFACE)
    for name in pc.__all__:
        assert getattr(pc, name) is not None
    assert not any(name.startswith("_") for name in pc.__all__)
