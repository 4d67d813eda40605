"""The collections policy as data: a YAML document validated into immutable models.

Stages are ordered least to most severe. A stage's trigger combines (``match: all`` or ``any``) the days
past due of the oldest unpaid undisputed amount (negative = before the due date), a minimum overdue
balance per currency and an exposure ratio ((overdue + unbilled) / credit limit). Harmful stages
(those that suspend) must name the notice stage that has to be *sent* at least ``requires_notice_days``
before them. Errors name the file, the path inside it and the problem.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.domain import Currency
from shared.domain.events import Amount

_Frozen = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
NonNegative = Annotated[Amount, Field(ge=0)]


class PolicyError(ValueError):
    """The policy document is unusable; the message lists every problem as ``source: path: problem``."""


class Localized(BaseModel):
    model_config = _Frozen
    en: Annotated[str, Field(min_length=1, max_length=200)]
    zh_CN: Annotated[str, Field(min_length=1, max_length=200, alias="zh-CN")]

    def get(self, language: str) -> str:
        return self.zh_CN if language == "zh-CN" else self.en


class Trigger(BaseModel):
    model_config = _Frozen
    days_past_due: Annotated[int, Field(ge=-60, le=3650)] | None = None
    min_overdue: dict[Currency, NonNegative] | None = None
    exposure_ratio: Annotated[Amount, Field(gt=0, le=100)] | None = None
    match: Literal["all", "any"] = "all"

    @model_validator(mode="after")
    def _has_condition(self) -> Trigger:
        if self.days_past_due is None and not self.min_overdue and self.exposure_ratio is None:
            raise ValueError("a trigger needs days_past_due, min_overdue or exposure_ratio")
        return self


class NotifyCustomer(BaseModel):
    model_config = _Frozen
    type: Literal["notify_customer"]
    template: Slug


class NotifyTeam(BaseModel):
    model_config = _Frozen
    type: Literal["notify_team"]
    template: Slug | None = None


AZURE_USAGE_KINDS = ("azure_plan", "azure_legacy")


class SuspendScope(BaseModel):
    """What a suspension touches: everything, nothing (dry run), Azure usage only (``azure_usage``: every Azure
    subscription under the customer's Azure plans and its legacy Azure subscriptions, never a licence), or listed
    subscription kinds / offers.

    An Azure plan in scope is enforced by disabling the Azure subscriptions under it (the plan refuses suspension
    while any is active: 900115). ``suspend_plan`` also suspends the plan itself once nothing under it is active
    (no new Azure subscription can be created under it then); without it the plan stays active.
    """

    model_config = _Frozen
    kind: Literal["all", "none", "selected", "azure_usage"]
    subscription_kinds: tuple[str, ...] = ()
    offer_ids: tuple[str, ...] = ()
    suspend_plan: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        if value in ("all", "none", "azure_usage"):
            return {"kind": value}
        if isinstance(value, dict) and "kind" not in value:
            return {"kind": "selected", **value}
        return value

    @model_validator(mode="after")
    def _selected_lists_something(self) -> SuspendScope:
        if self.kind == "selected" and not (self.subscription_kinds or self.offer_ids):
            raise ValueError("a selected scope needs subscription_kinds or offer_ids")
        if self.kind != "selected" and (self.subscription_kinds or self.offer_ids):
            raise ValueError(f"a scope of kind {self.kind!r} lists no subscription_kinds or offer_ids")
        return self

    @property
    def kinds(self) -> tuple[str, ...]:
        """The subscription kinds in scope (``all`` and ``none`` are answered by ``kind`` itself)."""
        return AZURE_USAGE_KINDS if self.kind == "azure_usage" else self.subscription_kinds


class Suspend(BaseModel):
    model_config = _Frozen
    type: Literal["suspend"]
    scope: SuspendScope


StageAction = Annotated[NotifyCustomer | NotifyTeam | Suspend, Field(discriminator="type")]


class ApprovalRule(BaseModel):
    model_config = _Frozen
    default: bool = False
    classes: dict[str, bool] = Field(default_factory=dict)

    def required_for(self, segment: str) -> bool:
        return self.classes.get(segment, self.default)


class Stage(BaseModel):
    model_config = _Frozen
    id: Slug
    name: Localized
    trigger: Trigger
    actions: tuple[StageAction, ...] = Field(min_length=1)
    requires_notice_days: Annotated[int, Field(ge=0, le=90)] = 0
    notice_stage: Slug | None = None
    requires_approval: bool | ApprovalRule = False

    @cached_property
    def suspend(self) -> Suspend | None:
        return next((a for a in self.actions if isinstance(a, Suspend) and a.scope.kind != "none"), None)

    @cached_property
    def harmful(self) -> bool:
        return self.suspend is not None

    @cached_property
    def notify_template(self) -> str | None:
        return next((a.template for a in self.actions if isinstance(a, NotifyCustomer)), None)

    def approval_required(self, segment: str) -> bool:
        rule = self.requires_approval
        return rule if isinstance(rule, bool) else rule.required_for(segment)


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
