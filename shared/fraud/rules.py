"""The rules document (thresholds per segment, outcomes, lists, shadow mode) and its validation."""

from __future__ import annotations

import contextlib
from enum import StrEnum
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from shared.fraud.detectors import REGISTRY, DetectorFn, Params
from shared.fraud.models import lazy
from shared.fraud.signals import Detector


class FraudError(Exception):
    """Root of the fraud engine's errors."""


class RulesError(FraudError):
    """The rules document is invalid; the message names every offending field."""


class Outcome(StrEnum):
    """What a rule asks for, weakest first."""

    ALLOW = "allow"
    REVIEW = "review"
    CONTAIN = "contain"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Outcome.ALLOW: 0, Outcome.REVIEW: 1, Outcome.CONTAIN: 2}


ContainmentScope = Literal["affected", "azure_usage", "customer"]
"""What a ``contain`` rule suspends: the Azure subscriptions (or subscriptions) its signals name (default), every
Azure subscription of the customer (Azure usage only), or the whole customer including licences (e-mail, Office)."""


class Rule(BaseModel):
    """One detector with its thresholds, per-segment overrides, and the outcome of a hit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    detector: Detector
    description: str = ""
    outcome: Outcome
    shadow: bool = False
    requires_approval: bool | None = None
    containment: ContainmentScope = "affected"
    only_segments: tuple[str, ...] = ()
    params: dict[str, Any] = Field(default_factory=dict)
    segments: dict[str, dict[str, Any]] = Field(default_factory=dict)

    _resolved: dict[str | None, Params] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _validate_params(self) -> Rule:
        if self.requires_approval and self.outcome is not Outcome.CONTAIN:
            raise ValueError("requires_approval applies only to outcome 'contain'")
        if self.containment != "affected" and self.outcome is not Outcome.CONTAIN:
            raise ValueError("containment applies only to outcome 'contain'")
        model = REGISTRY[self.detector][0]
        resolved: dict[str | None, Params] = {}
        problems: list[str] = []
        for segment, values in [
            (None, self.params),
            *((s, {**self.params, **o}) for s, o in self.segments.items()),
        ]:
            where = "params" if segment is None else f"segments.{segment}"
            try:
                resolved[segment] = model.model_validate(values)
            except ValidationError as exc:
                problems += [
                    f"{where}.{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
                ]
        if problems:
            raise ValueError(f"{self.detector.value} parameters: " + "; ".join(problems))
        self._resolved = resolved
        return self

    @property
    def needs_approval(self) -> bool:
        """Containment waits for a person unless the rule says otherwise."""
        return self.outcome is Outcome.CONTAIN and self.requires_approval is not False

    def applies_to(self, segment: str) -> bool:
        return not self.only_segments or segment in self.only_segments

    def params_for(self, segment: str) -> Params:
        return self._resolved.get(segment) or self._resolved[None]


class IdLists(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    customers: frozenset[str] = frozenset()
    subscriptions: frozenset[str] = frozenset()


class Lists(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: IdLists = IdLists()
    block: IdLists = IdLists()

    @model_validator(mode="after")
    def _disjoint(self) -> Lists:
        both = (self.allow.customers & self.block.customers) | (
            self.allow.subscriptions & self.block.subscriptions
        )
        if both:
            raise ValueError(f"ids on both the allow and the block list: {sorted(both)}")
        return self


class Rules(BaseModel):
    """The whole rules document."""

    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(lazy,))

    version: str = Field(min_length=1)
    default_segment: str = "default"
    evaluate_last_days: int = Field(1, ge=1, le=14)
    lists: Lists = Lists()
    rules: tuple[Rule, ...] = Field(min_length=1)

    @lazy
    def _plans(self) -> dict[str, tuple[tuple[Rule, Params, DetectorFn], ...]]:
        return {}

    def plan_for(self, segment: str) -> tuple[tuple[Rule, Params, DetectorFn], ...]:
        """The rules that apply to a segment, with their resolved parameters and detector (memoised)."""
        plan = self._plans.get(segment)
        if plan is None:
            plan = self._plans[segment] = tuple(
                (r, r.params_for(segment), REGISTRY[r.detector][1])
                for r in self.rules
                if r.applies_to(segment)
            )
        return plan

    @model_validator(mode="after")
    def _unique_ids(self) -> Rules:
        seen: set[str] = set()
        dupes = {r.id for r in self.rules if r.id in seen or seen.add(r.id)}  # type: ignore[func-returns-value]
        if dupes:
            raise ValueError(f"duplicate rule ids: {sorted(dupes)}")
        return self


def _format(err: ValidationError, doc: Any) -> str:
    lines = []
    errors = err.errors()
    item_errors = any(len(e["loc"]) >= 2 and e["loc"][0] == "rules" for e in errors)
    for e in errors:
        if item_errors and tuple(e["loc"]) == ("rules",) and e["type"] == "too_short":
            continue  # pydantic's echo of an invalid item, not a separate problem
        loc = list(e["loc"])
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            with contextlib.suppress(KeyError, IndexError, TypeError, AttributeError):
                loc[1] = f"{loc[1]} ({doc['rules'][loc[1]].get('id', '?')})"
        lines.append(f"  {'.'.join(str(x) for x in loc) or '<document>'}: {e['msg']}")
    return "invalid fraud rules:\n" + "\n".join(lines)


def parse_rules(text: str) -> Rules:
    """Parse and validate a YAML rules document (the caller reads the file)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"invalid fraud rules: not YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise RulesError("invalid fraud rules: the document must be a mapping")
    try:
        return Rules.model_validate(doc)
    except ValidationError as exc:
        raise RulesError(_format(exc, doc)) from exc
