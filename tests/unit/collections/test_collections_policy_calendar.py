"""Policy as data (validation, errors naming file/path/problem, versions) and the fail-safe calendar."""

from __future__ import annotations

import datetime as dt

import pytest
from _collections_builders import POLICY, POLICY_TEXT

from shared.collections import (
    Calendar,
    CalendarError,
    CalendarOverrides,
    PolicyError,
    PolicySet,
    parse_policy,
)


def test_shipped_policy_is_valid_and_ordered() -> None:
    assert [s.id for s in POLICY.stages] == [
        "reminder",
        "overdue",
        "final_notice",
        "suspend_usage",
        "suspend_all",
    ]
    assert [s.harmful for s in POLICY.stages] == [False, False, False, True, True]
    assert POLICY.stage("suspend_usage").approval_required("strategic")
    assert not POLICY.stage("suspend_usage").approval_required("standard")
    assert POLICY.stage("suspend_all").approval_required("standard")
    assert str(POLICY.tolerance_for("CNY")) == "10.00" and POLICY.tolerance_for("EUR") == 0


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "days_past_due: 45",
            "days_past_due: forty",
            "p.yaml: stages[4](suspend_all).trigger.days_past_due:",
        ),
        ('version: "2026-11-v1"', "version: ''", "p.yaml: version:"),
        ("timezone: Asia/Shanghai", "timezone: Mars/Olympus", "unknown time zone"),
        ("scope: all", "scope: everything", "stages[4](suspend_all).actions[0]"),
        (
            "notice_stage: final_notice\n    requires_approval: true",
            "notice_stage: overdue_x\n    requires_approval: true",
            "notice_stage must name an earlier stage",
        ),
        (
            "requires_notice_days: 7\n    notice_stage: final_notice\n    requires_approval: true",
            "requires_approval: true",
            "requires_notice_days must be at least 1",
        ),
        ("id: overdue", "id: reminder", "stage ids must be unique"),
        ("trigger: {days_past_due: 1}", "trigger: {match: any}", "a trigger needs"),
        ('CNY: "10.00"', 'CNY: "-1"', "tolerance.CNY"),
        (
            'harm_cutoff_local_time: "16:00"',
            'harm_cutoff_local_time: "25:00"',
            "calendar.harm_cutoff_local_time",
        ),
    ],
)
def test_policy_errors_name_file_path_and_problem(old: str, new: str, expected: str) -> None:
    assert old in POLICY_TEXT
    with pytest.raises(
        PolicyError, match=expected.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")
    ):
        parse_policy(POLICY_TEXT.replace(old, new, 1), "p.yaml")


def test_policy_rejects_non_mapping_and_bad_yaml() -> None:
    with pytest.raises(PolicyError, match=r"x\.yaml: .*mapping"):
        parse_policy("- a\n- b\n", "x.yaml")
    with pytest.raises(PolicyError, match="not valid YAML"):
        parse_policy("version: [unclosed", "x.yaml")


def test_policy_set_serves_the_version_a_case_started_under() -> None:
    v2 = parse_policy(
        POLICY_TEXT.replace('"2026-11-v1"', '"2026-12-v2"').replace("days_past_due: 30", "days_past_due: 20")
    )
    policies = PolicySet.of(POLICY, v2)
    assert policies.for_version(None).version == "2026-12-v2"
    assert policies.for_version("2026-11-v1").stage("suspend_usage").trigger.days_past_due == 30
    assert POLICY.digest != v2.digest
    with pytest.raises(PolicyError, match="not loaded"):
        policies.for_version("2025-01")


# --- calendar -----------------------------------------------------------------------------------------


def test_china_official_holidays_and_adjusted_working_weekends() -> None:
    cal = Calendar("CN")
    assert cal.day(dt.date(2026, 10, 1)).holiday is not None and not cal.day(dt.date(2026, 10, 1)).working
    sat = cal.day(dt.date(2026, 5, 9))  # adjusted working Saturday after Labour Day
    assert sat.working and not sat.doubtful and sat.safe_for_harm
    assert not cal.day(dt.date(2026, 5, 16)).working  # ordinary Saturday
    assert cal.is_holiday_eve(dt.date(2026, 9, 30))
    assert not cal.is_holiday_eve(dt.date(2026, 9, 22))


def test_a_year_without_official_data_is_doubtful_until_confirmed() -> None:
    cal = Calendar("CN")
    monday = cal.day(dt.date(2027, 3, 8))
    assert monday.working and monday.doubtful and not monday.safe_for_harm
    overrides = CalendarOverrides.from_yaml(
        "confirmed_years: [2027]\nholidays: [2027-03-09]\nworkdays: [2027-03-13]\n", "cal.yaml"
    )
    confirmed = Calendar("CN", overrides)
    assert confirmed.day(dt.date(2027, 3, 8)).safe_for_harm
    assert confirmed.is_holiday_eve(dt.date(2027, 3, 8))
    assert confirmed.day(dt.date(2027, 3, 13)).working  # a Saturday made a workday by the override file


def test_override_file_errors_name_the_file() -> None:
    with pytest.raises(CalendarError, match=r"cal.yaml: .*both as holidays and workdays"):
        CalendarOverrides.from_yaml("holidays: [2027-01-01]\nworkdays: [2027-01-01]\n", "cal.yaml")
    with pytest.raises(CalendarError, match=r"cal.yaml: holidays.0"):
        CalendarOverrides.from_yaml("holidays: [someday]\n", "cal.yaml")
    with pytest.raises(CalendarError, match="no holiday data"):
        Calendar("ZZ")


def test_other_countries_use_rule_based_holidays_without_doubt() -> None:
    us = Calendar("US").day(dt.date(2027, 7, 5))  # observed Independence Day
    assert us.holiday is not None and not us.working and not us.doubtful
