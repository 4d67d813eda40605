"""Typed settings: the only module that reads the environment.

In Azure they are app settings; locally they come from ``local.settings.json`` (the local runner
exports its ``Values`` into the environment). Validation happens once, at first use, and a
failure names every bad setting at once so a deployment can be fixed in one pass.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic.json_schema import JsonDict
from pydantic_settings import BaseSettings, SettingsConfigDict

# Marks a setting every Azure deployment must define as an app setting (infra/ sets each one and
# tests/infra checks it). Fields without a default are required too. Schedules are here because the
# host resolves %SWEEP_SCHEDULE% from app settings, never from the defaults below.
DEPLOY: JsonDict = {"deploy": "required"}


class Cloud(StrEnum):
    """Which Partner Center the app talks to."""

    CHINA = "china"  # Partner Center operated by 21Vianet (default)
    GLOBAL = "global"


class Settings(BaseSettings):
    """Every setting the app reads. Documented in README.md and local.settings.example.json."""

    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, case_sensitive=False, env_ignore_empty=True
    )

    # Storage: a connection string locally (Azurite); identity-based URIs in Azure.
    storage_connection: SecretStr | None = Field(default=None, alias="AzureWebJobsStorage")
    storage_queue_uri: str | None = Field(
        default=None, json_schema_extra=DEPLOY, alias="AzureWebJobsStorage__queueServiceUri"
    )
    storage_table_uri: str | None = Field(
        default=None, json_schema_extra=DEPLOY, alias="AzureWebJobsStorage__tableServiceUri"
    )

    # Partner Center
    pc_cloud: Cloud = Field(default=Cloud.CHINA, json_schema_extra=DEPLOY, alias="CSPGUARD_PC_CLOUD")
    pc_tenant_id: str = Field(default="", json_schema_extra=DEPLOY, alias="CSPGUARD_PC_TENANT_ID")
    pc_client_id: str = Field(default="", json_schema_extra=DEPLOY, alias="CSPGUARD_PC_CLIENT_ID")
    pc_client_secret: SecretStr | None = Field(
        default=None, json_schema_extra=DEPLOY, alias="CSPGUARD_PC_CLIENT_SECRET"
    )
    pc_base_url: str | None = Field(default=None, alias="CSPGUARD_PC_BASE_URL")
    pc_authority_host: str | None = Field(default=None, alias="CSPGUARD_PC_AUTHORITY_HOST")
    pc_ca_bundle: Path | None = Field(default=None, alias="CSPGUARD_PC_CA_BUNDLE")
    pc_rate_per_minute: int = Field(default=400, gt=0, alias="CSPGUARD_PC_RATE_PER_MINUTE")
    pc_customer_rate_per_minute: int = Field(default=100, gt=0, alias="CSPGUARD_PC_CUSTOMER_RATE_PER_MINUTE")
    pc_max_concurrency: int = Field(default=8, gt=0, le=64, alias="CSPGUARD_PC_MAX_CONCURRENCY")
    pc_timeout_seconds: float = Field(default=30.0, gt=0, alias="CSPGUARD_PC_TIMEOUT_SECONDS")
    # Azure subscription cancel/reactivate is asynchronous: how long to poll its read-back, and how often
    pc_entitlement_wait_seconds: float = Field(default=120.0, ge=0, alias="CSPGUARD_PC_ENTITLEMENT_WAIT_SECONDS")
    pc_entitlement_poll_seconds: float = Field(default=2.0, gt=0, alias="CSPGUARD_PC_ENTITLEMENT_POLL_SECONDS")
    # App+User (delegated) calls, i.e. fraud events (global cloud): the directory holding the rotating
    # refresh token (file "pc-refresh-token", rewritten after every exchange). Unset: app-only only.
    pc_refresh_token_dir: Path | None = Field(default=None, alias="CSPGUARD_PC_REFRESH_TOKEN_DIR")

    # Collections
    policy_file: Path = Field(default=Path("config/collections-policy.yaml"), alias="CSPGUARD_POLICY_FILE")
    policy_archive_dir: Path = Field(default=Path("config/policy-archive"), alias="CSPGUARD_POLICY_ARCHIVE_DIR")
    calendar_overrides_file: Path | None = Field(default=None, alias="CSPGUARD_CALENDAR_OVERRIDES_FILE")
    sweep_shard_size: int = Field(default=200, gt=0, le=5000, alias="CSPGUARD_SWEEP_SHARD_SIZE")
    partner_name: str = Field(
        default="Your CSP partner", json_schema_extra=DEPLOY, alias="CSPGUARD_PARTNER_NAME"
    )
    payment_instructions: str = Field(default="Pay by bank transfer quoting your invoice number.",
                                      json_schema_extra=DEPLOY, alias="CSPGUARD_PAYMENT_INSTRUCTIONS")
    collections_contact: str = Field(
        default="collections@partner.example", json_schema_extra=DEPLOY, alias="CSPGUARD_COLLECTIONS_CONTACT"
    )
    enforcement_enabled: bool = Field(
        default=False, json_schema_extra=DEPLOY, alias="CSPGUARD_ENFORCEMENT_ENABLED"
    )
    sweep_schedule: str = Field(default="0 0 1 * * *", json_schema_extra=DEPLOY, alias="SWEEP_SCHEDULE")
    max_suspensions_per_run: int = Field(default=20, ge=0, alias="CSPGUARD_MAX_SUSPENSIONS_PER_RUN")
    max_suspension_share: float = Field(default=0.05, ge=0, le=1, alias="CSPGUARD_MAX_SUSPENSION_SHARE")
    payment_feed_max_silence_hours: float = Field(default=36, gt=0, alias="CSPGUARD_PAYMENT_FEED_MAX_SILENCE_HOURS")

    # Fraud
    fraud_rules_file: Path = Field(default=Path("config/fraud-rules.yaml"), alias="CSPGUARD_FRAUD_RULES_FILE")
    fraud_scan_schedule: str = Field(
        default="0 15 * * * *", json_schema_extra=DEPLOY, alias="FRAUD_SCAN_SCHEDULE"
    )
    # usage days each scan assesses again (late usage, first-day signals); the same signal is never raised twice
    fraud_lookback_days: int = Field(default=3, ge=1, le=14, alias="CSPGUARD_FRAUD_LOOKBACK_DAYS")
    # until this day of the month the scan also reads period=previous (a closed month not yet invoiced)
    fraud_previous_period_days: int = Field(default=10, ge=0, le=28, alias="CSPGUARD_FRAUD_PREVIOUS_PERIOD_DAYS")
    # alarm (team alert, /api/health) when the newest usage day has not advanced for longer than this
    fraud_usage_max_silence_hours: float = Field(default=48, gt=0, alias="CSPGUARD_FRAUD_USAGE_MAX_SILENCE_HOURS")
    # unbilled exposure older than this is not used (a customer missing from the scans ages out)
    fraud_exposure_max_age_hours: float = Field(default=48, gt=0, alias="CSPGUARD_FRAUD_EXPOSURE_MAX_AGE_HOURS")
    fraud_language: Literal["en", "zh-CN"] = Field(default="en", alias="CSPGUARD_FRAUD_LANGUAGE")

    # Notifications
    smtp_host: str = Field(default="127.0.0.1", json_schema_extra=DEPLOY, alias="CSPGUARD_SMTP_HOST")
    smtp_port: int = Field(default=1025, gt=0, lt=65536, json_schema_extra=DEPLOY, alias="CSPGUARD_SMTP_PORT")
    smtp_username: str | None = Field(default=None, json_schema_extra=DEPLOY, alias="CSPGUARD_SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(
        default=None, json_schema_extra=DEPLOY, alias="CSPGUARD_SMTP_PASSWORD"
    )
    smtp_starttls: bool = Field(default=False, json_schema_extra=DEPLOY, alias="CSPGUARD_SMTP_STARTTLS")
    mail_from: str = Field(
        default="collections@partner.example", json_schema_extra=DEPLOY, alias="CSPGUARD_MAIL_FROM"
    )
    support_address: str = Field(
        default="support@21vianet.example", json_schema_extra=DEPLOY, alias="CSPGUARD_SUPPORT_ADDRESS"
    )
    team_webhook_url: str | None = Field(default=None, alias="CSPGUARD_TEAM_WEBHOOK_URL")
    # Which kind of endpoint CSPGUARD_TEAM_WEBHOOK_URL is: generic JSON, WeCom / DingTalk group robot, Feishu bot.
    team_webhook_kind: Literal["generic", "wecom", "dingtalk", "feishu"] = Field(
        default="generic", alias="CSPGUARD_TEAM_WEBHOOK_KIND")
    # The robot's signing secret (DingTalk "加签", Feishu "签名校验"); a Key Vault reference in Azure.
    team_webhook_secret: SecretStr | None = Field(default=None, alias="CSPGUARD_TEAM_WEBHOOK_SECRET")
    # Optional: service requests to 21Vianet go to this JSON webhook (the partner's ticketing) instead of e-mail.
    service_request_webhook_url: str | None = Field(default=None, alias="CSPGUARD_SERVICE_REQUEST_WEBHOOK_URL")
    # 21Vianet takes suspicious-activity reports only through the Partner Center portal: "portal" (default) prepares
    # the evidence pack for an operator to file; "email"/"webhook" send it to a ticketing system in between.
    service_request_channel: Literal["portal", "email", "webhook"] | None = Field(
        default=None, alias="CSPGUARD_SERVICE_REQUEST_CHANNEL")
    service_request_language: Literal["zh-CN", "en"] = Field(default="zh-CN", alias="CSPGUARD_SERVICE_REQUEST_LANGUAGE")
    service_request_retry_seconds: int = Field(
        default=120, ge=1, le=3600, alias="CSPGUARD_SERVICE_REQUEST_RETRY_SECONDS")
    service_request_max_wait_minutes: int = Field(
        default=120, ge=0, le=7 * 24 * 60, alias="CSPGUARD_SERVICE_REQUEST_MAX_WAIT_MINUTES")

    # Observability
    appinsights_connection: SecretStr | None = Field(
        default=None, json_schema_extra=DEPLOY, alias="APPLICATIONINSIGHTS_CONNECTION_STRING"
    )
    # "ClientId=<managed identity client id>;Authorization=AAD" when the resource has local auth disabled.
    appinsights_authentication: str | None = Field(
        default=None, alias="APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
    )

    # Local stack only: the time machine (see shared/clock.py). Refused anywhere else (_clock_is_local).
    local_stack: bool = Field(default=False, alias="CSPGUARD_LOCAL_STACK")
    local_clock_file: Path | None = Field(default=None, alias="CSPGUARD_LOCAL_CLOCK_FILE")

    @model_validator(mode="after")
    def _clock_is_local(self) -> Settings:
        if self.local_clock_file is not None:
            why = not_local(self)
            if why:
                raise ValueError(f"CSPGUARD_LOCAL_CLOCK_FILE moves time and is refused outside the local stack "
                                 f"({why}); remove it: in Azure csp-guard always runs on the real clock")
        return self

    @model_validator(mode="after")
    def _storage_is_configured(self) -> Settings:
        if self.storage_connection is None and not (self.storage_queue_uri and self.storage_table_uri):
            raise ValueError(
                "storage is not configured: set AzureWebJobsStorage (a connection string) or both "
                "AzureWebJobsStorage__queueServiceUri and AzureWebJobsStorage__tableServiceUri"
            )
        return self

    @property
    def service_request_route(self) -> Literal["portal", "email", "webhook"]:
        """The channel in use: as set, else the webhook when its URL is set (as before), else the portal."""
        if self.service_request_channel is not None:
            return self.service_request_channel
        return "webhook" if self.service_request_webhook_url else "portal"

    def problems(self) -> list[str]:
        """Configuration that is valid but not usable yet (reported by /api/health)."""
        out: list[str] = []
        if not (self.pc_tenant_id and self.pc_client_id and self.pc_client_secret):
            out.append("Partner Center credentials incomplete: set CSPGUARD_PC_TENANT_ID, "
                       "CSPGUARD_PC_CLIENT_ID and CSPGUARD_PC_CLIENT_SECRET")
        if self.service_request_route == "webhook" and not self.service_request_webhook_url:
            out.append("CSPGUARD_SERVICE_REQUEST_CHANNEL=webhook needs CSPGUARD_SERVICE_REQUEST_WEBHOOK_URL")
        if not self.policy_file.is_file():
            out.append(f"collections policy file not found: {self.policy_file}")
        return out


_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def not_local(settings: Settings) -> str | None:
    """Why these settings are not the local stack's, or None: the stack's own marker, loopback storage and
    Partner Center, and none of the variables App Service sets on every Azure instance."""
    azure = [v for v in ("WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME", "WEBSITE_HOSTNAME") if os.environ.get(v)]
    if azure:
        return f"{azure[0]} is set: this is an App Service instance"
    if not settings.local_stack:
        return "CSPGUARD_LOCAL_STACK is not true: only the local stack (make run, tests) writes it"
    conn = settings.storage_connection.get_secret_value() if settings.storage_connection else ""
    if not (conn == "UseDevelopmentStorage=true" or any(f"//{h}:" in conn for h in _LOOPBACK)):
        return "storage is not a loopback Azurite"
    if not settings.pc_base_url or not any(f"//{h}:" in settings.pc_base_url for h in _LOOPBACK):
        return "Partner Center is not the loopback sandbox (CSPGUARD_PC_BASE_URL)"
    return None


class ToolSettings(Settings):
    """The same settings for tools that never touch storage (``cspguard pc``, ``cspguard policy-doc``):
    they work on a fresh checkout with only their own settings."""

    @model_validator(mode="after")
    def _storage_is_configured(self) -> ToolSettings:  # overrides the storage requirement by name
        return self


class SettingsError(RuntimeError):
    """Settings are missing or invalid; the message lists every problem."""


def load_settings(*, require_storage: bool = True, **overrides: object) -> Settings:
    """Read and validate settings from the environment, raising one readable error.

    ``overrides`` (by alias, e.g. a local.settings.json's Values) take precedence over the environment.
    ``require_storage=False`` for tools that never read or write storage.
    """
    cls = Settings if require_storage else ToolSettings
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            lines.append(f"  - {where}: {err['msg']}")
        raise SettingsError("invalid csp-guard settings:\n" + "\n".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, validated once."""
    return load_settings()
