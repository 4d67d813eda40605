"""Cloud profiles: where Partner Center and its Entra authority live, and what each cloud offers.

Global-only features are switched on by capability flags here, never by code forks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Capability(StrEnum):
    """Features that exist in only some clouds."""

    FRAUD_EVENTS = "fraud_events"
    USAGE_SUMMARIES = "usage_summaries"
    BUDGETS = "budgets"


@dataclass(frozen=True, slots=True)
class CloudProfile:
    """One Partner Center cloud. ``authority_host`` is the origin, the tenant is appended per call."""

    name: str
    base_url: str
    authority_host: str
    resource: str
    capabilities: frozenset[Capability]
    known_authority: bool = True  # False when overridden (sandbox): MSAL must skip instance discovery

    @property
    def app_scope(self) -> str:
        """App-only (client credentials) scope."""
        return f"{self.resource}/.default"

    @property
    def user_scope(self) -> str:
        """App+User (delegated) scope."""
        return f"{self.resource}/user_impersonation"

    def authority(self, tenant_id: str) -> str:
        return f"{self.authority_host.rstrip('/')}/{tenant_id}"

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def with_overrides(self, base_url: str | None = None, authority_host: str | None = None) -> CloudProfile:
        """Point the profile elsewhere (the sandbox) while keeping its scope and capabilities."""
        return replace(
            self,
            base_url=(base_url or self.base_url).rstrip("/"),
            authority_host=(authority_host or self.authority_host).rstrip("/"),
            known_authority=self.known_authority and authority_host is None,
        )


CHINA = CloudProfile(
    name="china",
    base_url="https://partner.partnercenterapi.microsoftonline.cn",
    authority_host="https://login.partner.microsoftonline.cn",
    resource="https://partner.partnercenterapi.microsoftonline.cn",
    capabilities=frozenset(),
)

GLOBAL = CloudProfile(
    name="global",
    base_url="https://api.partnercenter.microsoft.com",
    authority_host="https://login.microsoftonline.com",
    resource="https://api.partnercenter.microsoft.com",
    capabilities=frozenset({Capability.FRAUD_EVENTS, Capability.USAGE_SUMMARIES, Capability.BUDGETS}),
)

CLOUDS: dict[str, CloudProfile] = {CHINA.name: CHINA, GLOBAL.name: GLOBAL}


def get_profile(name: str) -> CloudProfile:
    """The profile for ``china`` (21Vianet, default) or ``global``."""
    try:
        return CLOUDS[str(name).lower()]
    except KeyError:
        raise ValueError(f"unknown Partner Center cloud {name!r}; expected one of {sorted(CLOUDS)}") from None
