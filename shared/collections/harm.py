"""When a harmful action (a suspension) may run: business days, holidays and eves, local cut-off times."""

from __future__ import annotations

import datetime as dt

from shared.collections._fast import build
from shared.collections.calendar import Calendar
from shared.collections.decision import Reason
from shared.collections.policy import CalendarRules

SEARCH_DAYS = 60


def _reason(code: str, text: str) -> Reason:
    return build(Reason, code=code, text=text)


def _day_blockers(cal: Calendar, rules: CalendarRules, day: dt.date) -> list[Reason]:
    info = cal.day(day)
    out: list[Reason] = []
    if info.doubtful and (not info.working or rules.harm_on_business_days_only):
        out.append(
            Reason(
                code="calendar_doubtful",
                text=f"{day} is in a year without official holiday data for {cal.country}; "
                "harmful actions wait until the calendar override file confirms the year",
            )
        )
    if rules.no_harm_on_holidays_or_eve and info.holiday:
        out.append(_reason(code="holiday", text=f"{day} is a public holiday ({info.holiday})"))
    elif rules.harm_on_business_days_only and not info.working:
        out.append(_reason(code="non_working_day", text=f"{day} is not a working day"))
    if rules.no_harm_on_holidays_or_eve and cal.is_holiday_eve(day):
        out.append(_reason(code="holiday_eve", text=f"{day} is the eve of a public holiday"))
    return out


def harm_blockers(cal: Calendar, rules: CalendarRules, local: dt.datetime) -> list[Reason]:
    """Why a harmful action may not run at this local time (empty list = allowed)."""
    out = _day_blockers(cal, rules, local.date())
    t = local.time()
    if t < rules.harm_window_start:
        out.append(_reason(code="before_window", text=f"before {rules.harm_window_start:%H:%M} local time"))
    if rules.harm_cutoff_local_time is not None and t >= rules.harm_cutoff_local_time:
        out.append(
            _reason(code="after_cutoff", text=f"after the {rules.harm_cutoff_local_time:%H:%M} cut-off")
        )
    if (
        local.weekday() == 4
        and rules.no_harm_on_friday_after is not None
        and t >= rules.no_harm_on_friday_after
    ):
        out.append(
            _reason(code="friday_afternoon", text=f"Friday after {rules.no_harm_on_friday_after:%H:%M}")
        )
    return out


def next_harm_window(cal: Calendar, rules: CalendarRules, local: dt.datetime) -> dt.datetime | None:
    """The first local instant at or after ``local`` when a harmful action may run (None within 60 days)."""
    for offset in range(SEARCH_DAYS + 1):
        day = local.date() + dt.timedelta(days=offset)
        if _day_blockers(cal, rules, day):
            continue
        start = dt.datetime.combine(day, rules.harm_window_start, tzinfo=local.tzinfo)
        if offset == 0 and local > start:
            start = local
        end = rules.harm_cutoff_local_time or dt.time.max
        if day.weekday() == 4 and rules.no_harm_on_friday_after is not None:
            end = min(end, rules.no_harm_on_friday_after)
        if start.time() < end:
            return start
    return None
