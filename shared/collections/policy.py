"""The collections policy as data: a YAML document validated into immutable models.

Stages (``shared.collections.stages``: trigger and actions) are ordered least to most severe. Harmful
stages (those that suspend) must name the notice stage that has to be *sent* at least
``requires_notice_days`` before them. Errors name the file, the path inside it and the problem.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from shared.collections.errors import PolicyError
from shared.collections.stages import (
    AZURE_USAGE_KINDS,
    ApprovalRule,
    Localized,
    NonNegative,
    NotifyCustomer,
    NotifyTeam,
    Slug,
    Stage,
    StageAction,
    Suspend,
    SuspendScope,
    Trigger,
)
from shared.collections.stages import Frozen as _Frozen
from shared.domain import Currency

__all__ = [
    "AZURE_USAGE_KINDS",
    "ApprovalRule",
    "CalendarRules",
    "Localized",
    "NonNegative",
    "NotifyCustomer",
    "NotifyTeam",
    "Policy",
    "PolicyError",
    "PolicySet",
    "Slug",
    "Stage",
    "StageAction",
    "StagePlan",
    "Suspend",
    "SuspendScope",
    "SuspensionTerms",
    "Trigger",
    "parse_policy",
]


class CalendarRules(BaseModel):
    model_config = _Frozen
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "CN"
    harm_on_business_days_only: bool = True
    no_harm_on_holidays_or_eve: bool = True
    harm_window_start: dt.time = dt.time(9, 0)
    harm_cutoff_local_time: dt.time | None = dt.time(16, 0)
    no_harm_on_friday_after: dt.time | None = dt.time(12, 0)


class SuspensionTerms(BaseModel):
    """What a suspension costs the customer, as notices and the policy document state it, and when the team is
    warned before a suspended subscription reaches a point of no return (``alert_days_before``; 0 = never)."""

    model_config = _Frozen
    # 21Vianet's documentation: data may be deleted if a subscription is not reactivated within 60 days
    data_deletion_days: Annotated[int, Field(ge=1, le=365)] = 60
    # a cancelled Azure subscription can be reactivated only for a limited period (not documented for 21Vianet)
    azure_reactivation_days: Annotated[int, Field(ge=1, le=365)] = 30
    alert_days_before: Annotated[int, Field(ge=0, le=90)] = 7


StagePlan = tuple[int | None, tuple[tuple[str, Decimal], ...], Decimal | None, bool, bool]
"""(days_past_due, min_overdue items, exposure_ratio, match_all, harmful) of one stage."""


class Policy(BaseModel):
    """One version of the collections policy."""

    model_config = _Frozen
    version: Annotated[str, Field(min_length=1, max_length=64)]
    timezone: str = "Asia/Shanghai"
    tolerance: dict[Currency, NonNegative]
    restore_within_hours: Annotated[int, Field(ge=1, le=168)] = 4
    calendar: CalendarRules = CalendarRules()
    suspension: SuspensionTerms = SuspensionTerms()
    stages: tuple[Stage, ...] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        ids = [s.id for s in self.stages]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"stage ids must be unique, repeated: {dupes}")
        for pos, stage in enumerate(self.stages):
            if not stage.harmful:
                continue
            if stage.requires_notice_days < 1:
                raise ValueError(f"stage {stage.id!r} suspends, so requires_notice_days must be at least 1")
            earlier = {s.id: s for s in self.stages[:pos]}
            notice = stage.notice_stage
            if notice is None or notice not in earlier:
                raise ValueError(
                    f"stage {stage.id!r}: notice_stage must name an earlier stage, got {notice!r}"
                )
            if earlier[notice].notify_template is None:
                raise ValueError(f"stage {stage.id!r}: notice stage {notice!r} sends no notify_customer")
            if earlier[notice].harmful:
                raise ValueError(f"stage {stage.id!r}: notice stage {notice!r} must not itself suspend")
        return self

    @cached_property
    def digest(self) -> str:
        """Identifies the policy's content (not just its version label) in decision fingerprints."""
        return hashlib.blake2b(self.model_dump_json().encode(), digest_size=12).hexdigest()

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def plan(self) -> tuple[StagePlan, ...]:
        """Stage triggers flattened to tuples once, so evaluation reads plain values in its hot loop."""
        return tuple(
            (
                s.trigger.days_past_due,
                tuple((s.trigger.min_overdue or {}).items()),
                s.trigger.exposure_ratio,
                s.trigger.match == "all",
                s.harmful,
            )
            for s in self.stages
        )

    def stage(self, stage_id: str) -> Stage:
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise KeyError(stage_id)

    def tolerance_for(self, currency: str) -> Decimal:
        return self.tolerance.get(currency, Decimal(0))


def _path(loc: tuple[Any, ...], data: Any) -> str:
    """``stages[3](suspend).trigger`` from a pydantic location, naming stages by id when possible."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            try:
                node = node[part]
                if isinstance(node, dict) and "id" in node:
                    out += f"({node['id']})"
            except (IndexError, KeyError, TypeError):
                node = None
        else:
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(document)"


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Validate a policy YAML document; raises PolicyError listing ``source: path: problem`` lines."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: (document): expected a mapping with version, tolerance and stages")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            lines.append(f"{source}: {_path(loc, data)}: {err['msg']}")
        raise PolicyError("\n".join(lines)) from exc


class PolicySet(BaseModel):
    """Every policy version still in use; a case keeps the version it started under."""

    model_config = _Frozen
    current: str
    versions: dict[str, Policy]

    @model_validator(mode="after")
    def _current_known(self) -> PolicySet:
        if self.current not in self.versions:
            raise ValueError(f"current version {self.current!r} is not among {sorted(self.versions)}")
        return self

    @classmethod
    def of(cls, *policies: Policy) -> PolicySet:
        """The last policy given is the current one."""
        return cls(current=policies[-1].version, versions={p.version: p for p in policies})

    def for_version(self, version: str | None) -> Policy:
        if version is None:
            return self.versions[self.current]
        try:
            return self.versions[version]
        except KeyError:
            raise PolicyError(
                f"policy version {version!r} is not loaded; known: {sorted(self.versions)}"
            ) from None
