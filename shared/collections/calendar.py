"""Working days and public holidays, failing safe where official data is missing.

China: official holidays *and* adjusted working weekends come from ``chinese-calendar`` (official
notices, up to the last year it knows). For later years the rule-based ``holidays.China`` is used, but
every such day is marked *doubtful*: harmful actions treat it as non-working and the decision says why.
A partner-maintained override file (holidays / workdays / confirmed years) takes precedence over both.
Other countries come from ``holidays`` (rule-based; considered official).

A ``Calendar`` is built from data once and answers per day from a cache: no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache
from typing import Any

import chinese_calendar
import holidays
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from shared.collections.errors import CalendarError

_Frozen = ConfigDict(frozen=True, extra="forbid")


class CalendarOverrides(BaseModel):
    """Partner-maintained corrections; ``confirmed_years`` are years whose official schedule is entered."""

    model_config = _Frozen
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()
    confirmed_years: frozenset[int] = frozenset()

    @field_validator("workdays")
    @classmethod
    def _disjoint(cls, value: frozenset[dt.date], info: Any) -> frozenset[dt.date]:
        both = value & info.data.get("holidays", frozenset())
        if both:
            raise ValueError(f"dates listed both as holidays and workdays: {sorted(map(str, both))}")
        return value

    @classmethod
    def from_yaml(cls, text: str, source: str = "<calendar overrides>") -> CalendarOverrides:
        try:
            data = yaml.safe_load(text) or {}
            return cls.model_validate(data)
        except yaml.YAMLError as exc:
            raise CalendarError(f"{source}: not valid YAML: {exc}") from exc
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise CalendarError(f"{source}: {problems}") from exc


class DayInfo(BaseModel):
    """What the calendar knows about one date."""

    model_config = _Frozen
    day: dt.date
    working: bool  # a normal working day (adjusted weekends count as working)
    holiday: str | None  # public holiday name, if any
    doubtful: bool  # no official data for this year: unsafe for harmful actions

    @property
    def safe_for_harm(self) -> bool:
        return self.working and not self.doubtful


@lru_cache(maxsize=1)
def official_china_years() -> tuple[int, int]:
    """(first, last) year the installed ``chinese-calendar`` has the State Council's schedule for."""
    years = {d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays}
    return min(years), max(years)


def _china_official(day: dt.date) -> tuple[bool, str | None] | None:
    """(working, holiday name) from the official data, or None when the year is not covered."""
    try:
        working = chinese_calendar.is_workday(day)
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    return working, (name if is_holiday and name else None)


class Calendar:
    """Per-country working-day calendar with an override layer and fail-safe for unofficial years."""

    def __init__(self, country: str = "CN", overrides: CalendarOverrides | None = None) -> None:
        self.country = country.upper()
        self.overrides = overrides or CalendarOverrides()
        self._days: dict[dt.date, DayInfo] = {}
        self._rules: dict[int, Any] = {}
        try:
            holidays.country_holidays(self.country, years=[])
        except NotImplementedError as exc:
            raise CalendarError(f"no holiday data for country {country!r}") from exc
        o = self.overrides
        data = f"{sorted(o.holidays)}{sorted(o.workdays)}{sorted(o.confirmed_years)}"
        self.digest = f"{self.country}:{hashlib.blake2b(data.encode(), digest_size=8).hexdigest()}"
        """Identifies the calendar data for decision fingerprints."""

    def day(self, day: dt.date) -> DayInfo:
        info = self._days.get(day)
        if info is None:
            info = self._days[day] = self._compute(day)
        return info

    def _rule_based(self, year: int) -> Any:
        if year not in self._rules:
            self._rules[year] = holidays.country_holidays(self.country, years=[year])
        return self._rules[year]

    def _compute(self, day: dt.date) -> DayInfo:
        o = self.overrides
        if day in o.holidays:
            return DayInfo(day=day, working=False, holiday="holiday (override file)", doubtful=False)
        if day in o.workdays:
            return DayInfo(day=day, working=True, holiday=None, doubtful=False)
        confirmed = day.year in o.confirmed_years
        if self.country == "CN" and not confirmed:
            official = _china_official(day)
            if official is not None:
                return DayInfo(day=day, working=official[0], holiday=official[1], doubtful=False)
        rules = self._rule_based(day.year)
        name = rules.get(day)
        adjusted: set[dt.date] = getattr(rules, "weekend_workdays", set())
        working = day in adjusted or (name is None and day.weekday() < 5)
        doubtful = self.country == "CN" and not confirmed
        return DayInfo(day=day, working=working, holiday=name, doubtful=doubtful)

    def first_day_without_official_data(self) -> dt.date | None:
        """The first day (1 January of a year) that neither ``chinese-calendar`` nor a confirmed year of the
        override file covers: from then on every harmful action is blocked as calendar-doubtful. None for
        countries whose rule-based data counts as official."""
        if self.country != "CN":
            return None
        year = official_china_years()[1] + 1
        while year in self.overrides.confirmed_years:
            year += 1
        return dt.date(year, 1, 1)

    def is_holiday_eve(self, day: dt.date) -> bool:
        """True when the next day is a public holiday (or, failing safe, a doubtful day off)."""
        nxt = self.day(day + dt.timedelta(days=1))
        return nxt.holiday is not None or (nxt.doubtful and not nxt.working)


@lru_cache(maxsize=8)
def calendar_for(country: str, overrides: CalendarOverrides | None = None) -> Calendar:
    """A shared Calendar per (country, overrides): its day cache then serves every evaluation."""
    return Calendar(country, overrides)
