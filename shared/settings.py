"""Typed settings: the only module that reads the environment.

In Azure they are app settings; locally they come from ``local.settings.json`` (the local runner
exports its ``Values`` into the environment). Validation happens once, at first use, and a
failure names every bad setting at once so a deployment can be fixed in one pass.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

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
    # Optional: service requests to 21Vianet go to this JSON webhook (the partner's ticketing) instead of e-mail.
    service_request_webhook_url: str | None = Field(default=None, alias="CSPGUARD_SERVICE_REQUEST_WEBHOOK_URL")

    # Observability
    appinsights_connection: SecretStr | None = Field(
        default=None, json_schema_extra=DEPLOY, alias="APPLICATIONINSIGHTS_CONNECTION_STRING"
    )
    # "ClientId=<managed identity client id>;Authorization=AAD" when the resource has local auth disabled.
    appinsights_authentication: str | None = Field(
        default=None, alias="APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
    )

    @model_validator(mode="after")
    def _storage_is_configured(self) -> Settings:
        if self.storage_connection is None and not (self.storage_queue_uri and self.storage_table_uri):
            raise ValueError(
                "storage is not configured: set AzureWebJobsStorage (a connection string) or both "
                "AzureWebJobsStorage__queueServiceUri and AzureWebJobsStorage__tableServiceUri"
            )
        return self

    def problems(self) -> list[str]:
        """Configuration that is valid but not usable yet (reported by /api/health)."""
        out: list[str] = []
        if not (self.pc_tenant_id and self.pc_client_id and self.pc_client_secret):
            out.append("Partner Center credentials incomplete: set CSPGUARD_PC_TENANT_ID, "
                       "CSPGUARD_PC_CLIENT_ID and CSPGUARD_PC_CLIENT_SECRET")
        if not self.policy_file.is_file():
            out.append(f"collections policy file not found: {self.policy_file}")
        return out


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
