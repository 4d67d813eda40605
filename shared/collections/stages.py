"""The stages of a collections policy: when a stage applies (its trigger) and what it does (its actions).

A stage's trigger combines (``match: all`` or ``any``) the days past due of the oldest unpaid undisputed amount
(negative = before the due date), a minimum overdue balance per currency and an exposure ratio
((overdue + unbilled) / credit limit). ``shared.collections.policy`` orders stages into a policy and checks them
against each other.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain import Currency
from shared.domain.events import Amount

Frozen = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
NonNegative = Annotated[Amount, Field(ge=0)]


class Localized(BaseModel):
    model_config = Frozen
    en: Annotated[str, Field(min_length=1, max_length=200)]
    zh_CN: Annotated[str, Field(min_length=1, max_length=200, alias="zh-CN")]

    def get(self, language: str) -> str:
        return self.zh_CN if language == "zh-CN" else self.en


class Trigger(BaseModel):
    model_config = Frozen
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
    model_config = Frozen
    type: Literal["notify_customer"]
    template: Slug


class NotifyTeam(BaseModel):
    model_config = Frozen
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

    model_config = Frozen
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
    model_config = Frozen
    type: Literal["suspend"]
    scope: SuspendScope


StageAction = Annotated[NotifyCustomer | NotifyTeam | Suspend, Field(discriminator="type")]


class ApprovalRule(BaseModel):
    model_config = Frozen
    default: bool = False
    classes: dict[str, bool] = Field(default_factory=dict)

    def required_for(self, segment: str) -> bool:
        return self.classes.get(segment, self.default)


class Stage(BaseModel):
    model_config = Frozen
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
