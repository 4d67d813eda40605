"""Detector parameters: the thresholds a rule sets (per segment) for its detector. Unknown keys are errors."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class Params(BaseModel):
    """Base of detector parameters: unknown keys are errors, so typos in the rules file surface."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SpikeParams(Params):
    min_history_days: int = Field(14, ge=1)
    lookback_weeks: int = Field(6, ge=1)
    min_same_weekday: int = Field(3, ge=1)
    fallback_days: int = Field(28, ge=3)
    z_threshold: float = Field(6.0, gt=0)
    min_ratio: float = Field(2.5, gt=1)
    min_amount: Decimal = Field(Decimal(500), ge=0)
    rel_scale_floor: float = Field(0.1, ge=0)
    month_end_tolerance: float = Field(2.0, gt=0)
    month_end_days: int = Field(3, ge=0, le=10)
    """The last days of a month, where batch runs are a known calendar effect."""
    familiar_share: float = Field(0.8, ge=0, le=1)
    """A month-end rise with at least this share on meters and regions already used is a batch run."""
    notice_tolerance: float = Field(1.5, gt=0)
    per_subscription: bool = True
    """Also compare each consuming subscription (Azure subscription, licence subscription) with its own history."""


class NewCustomerParams(Params):
    max_history_days: int = Field(14, ge=1)
    min_ratio: float = Field(3.0, gt=1)
    cumulative_ratio: float = Field(2.0, gt=1)
    min_amount: Decimal = Field(Decimal(300), ge=0)
    peer_statistic: str = Field("p90", pattern="^(median|p90)$")
    fallback_daily: Decimal | None = Field(None, ge=0)


class VelocityParams(Params):
    burn_days: int = Field(3, ge=1)
    max_utilisation: float = Field(1.0, gt=0)
    min_amount: Decimal = Field(Decimal(0), ge=0)


class RiskyMeterParams(Params):
    patterns: tuple[str, ...] = (
        "*gpu*",
        "*hpc*",
        "*machine learning*",
        "batch",
        "n[cdv]*series",
        "h[bc]*series",
    )
    """Shell-style, case-insensitive, matched against meter category, sub-category and name."""
    baseline_days: int = Field(28, ge=1)
    min_history_days: int = Field(7, ge=0)
    min_ratio: float = Field(3.0, gt=1)
    min_amount: Decimal = Field(Decimal(200), ge=0)


class NewRegionParams(Params):
    min_history_days: int = Field(14, ge=1)
    baseline_days: int = Field(14, ge=1)
    rise_z: float = Field(3.0, ge=0)
    """The day's total must exceed its baseline by this many robust deviations (a move is not a rise)."""
    min_amount: Decimal = Field(Decimal(200), ge=0)
    min_share: float = Field(0.2, ge=0, le=1)


class SubscriptionBurstParams(Params):
    window_days: int = Field(3, ge=1)
    max_new: int = Field(3, ge=1)
    include_first_days: bool = False


class FraudEventParams(Params):
    statuses: tuple[str, ...] = ("active", "investigating")
    event_types: tuple[str, ...] = ()
