"""Sandbox configuration: what a test or the stack launcher can tune, validated once.

Credentials have fixed, documented defaults so a developer can paste them into
``local.settings.json``; they are sandbox-only values, never real secrets.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_TENANT_ID = "4a1c1b0e-5b1d-4c6e-9a55-5a4d0c0ffee1"
DEFAULT_CLIENT_ID = "6e2b8f3d-7c1a-4d2e-8f00-5a4d0c0ffee2"
DEFAULT_CLIENT_SECRET = "sandbox-secret-not-a-real-one"

# The Partner Center audiences whose "<base>/.default" scope the token endpoint accepts.
AUDIENCES = {
    "china": "https://partner.partnercenterapi.microsoftonline.cn",
    "global": "https://api.partnercenter.microsoft.com",
}


class FaultConfig(BaseModel):
    """Faults injected into /v1 calls; the RNG is seeded so a run is repeatable."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    latency_ms: int = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)  # share of calls answered 500 or 503
    timeout_rate: float = Field(default=0.0, ge=0, le=1)  # share of calls that hang past the client timeout
    timeout_seconds: float = Field(default=35.0, ge=0)  # how long a "timed out" call hangs
    token_ttl_seconds: float | None = Field(
        default=None, gt=0
    )  # real lifetime of new tokens (expires_in lies)
    storm_429: int = Field(default=0, ge=0)  # the next N /v1 calls get 429
    storm_retry_after: int = Field(default=1, ge=1)  # Retry-After of storm answers


class SandboxConfig(BaseModel):
    """Everything about one sandbox run. ``port=0`` picks a free loopback port."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 1
    customers: int = Field(default=20, ge=0)
    subscriptions_per_customer: tuple[int, int] = (1, 4)
    usage_days: int = Field(default=30, ge=1)
    usage_start: date | None = None  # None: the usage window ends yesterday
    clock_file: Path | None = None  # the local stack's time machine (shared.clock.FileClock); None: real time
    misuse_share: float = Field(default=0.02, ge=0, le=1)
    lookalike_share: float = Field(default=0.03, ge=0, le=1)
    cloud: Literal["china", "global"] = "china"
    page_size_cap: int = Field(default=500, gt=0)
    usage_page_size_cap: int = Field(default=2000, gt=0)
    rate_per_minute: int = Field(default=6000, gt=0)  # per partner tenant
    customer_rate_per_minute: int = Field(default=1000, gt=0)  # per (partner, customer) pair
    throttle_counts_rejected: bool = True  # immediate retries count against the limit, as documented
    next_without_v1: bool = True  # every other links.next uri lacks the "/v1" prefix
    require_if_match: bool = True  # PATCH without If-Match (and no body etag) -> 412
    require_contract_version: bool = True  # /v1 call without MS-Contract-Version -> 400 (documented required)
    require_customer_page_size: bool = True  # GET /v1/customers without size -> 400 (documented required)
    reset_omitted_fields: bool = True  # PATCH fields left out of the body fall back to defaults
    token_lifetime_seconds: int = Field(default=3599, gt=0)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    port: int = Field(default=0, ge=0, lt=65536)
    host: str = "127.0.0.1"
    tenant_id: str = DEFAULT_TENANT_ID
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    call_log_limit: int = Field(default=100_000, gt=0)
    # Azure subscription cancel/reactivate is asynchronous: reads show the old status for this long (Partner
    # Center: up to minutes; small here so tests are fast, and clients must poll either way)
    entitlement_change_delay_seconds: float = Field(default=0.3, ge=0)
    # cancel/reactivate need the caller to be Global Admin with the Admin Agent role: False answers 403
    entitlement_admin_agent: bool = True
    string_error_codes: bool = (
        True  # 800091 and 900115 arrive as strings ("code may be a string or a number")
    )

    @property
    def audience(self) -> str:
        return AUDIENCES[self.cloud]

    @property
    def currency(self) -> str:
        return "CNY" if self.cloud == "china" else "USD"


class ConfigPatch(BaseModel):
    """Body of PATCH /_sandbox/config: the knobs that may change while the sandbox runs."""

    model_config = ConfigDict(extra="forbid")

    rate_per_minute: int | None = Field(default=None, gt=0)
    customer_rate_per_minute: int | None = Field(default=None, gt=0)
    page_size_cap: int | None = Field(default=None, gt=0)
    usage_page_size_cap: int | None = Field(default=None, gt=0)
    next_without_v1: bool | None = None
    require_if_match: bool | None = None
    reset_omitted_fields: bool | None = None
    throttle_counts_rejected: bool | None = None
    string_error_codes: bool | None = None
    cloud: Literal["china", "global"] | None = None
    entitlement_change_delay_seconds: float | None = Field(default=None, ge=0)
    entitlement_admin_agent: bool | None = None
