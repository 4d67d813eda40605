"""Amount, date and language helpers (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.notify import SUPPORTED_LANGUAGES, format_amount, format_date, format_datetime, normalize_language


@pytest.mark.parametrize(
    ("amount", "currency", "lang", "expected"),
    [
        (Decimal("12345"), "CNY", "en", "CNY 12,345.00"),
        ("12345.675", "cny", "en", "CNY 12,345.68"),
        (Decimal("12345"), "CNY", "zh-CN", "人民币 12,345.00 元"),
        (Decimal("99.5"), "USD", "zh-CN", "USD 99.50"),
        (1500, "JPY", "en", "JPY 1,500"),
        ("-20", "CNY", "en", "CNY -20.00"),
    ],
)
def test_format_amount(amount: object, currency: str, lang: str, expected: str) -> None:
    assert format_amount(amount, currency, lang) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("amount", "currency"), [("abc", "CNY"), ("NaN", "CNY"), ("1", "RMB1"), ("1", "")])
def test_format_amount_rejects_garbage(amount: str, currency: str) -> None:
    with pytest.raises(ValueError):
        format_amount(amount, currency)


@given(st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2))
def test_format_amount_round_trips(value: Decimal) -> None:
    text = format_amount(value, "CNY", "en")
    code, figure = text.split(" ")
    assert code == "CNY"
    assert Decimal(figure.replace(",", "")) == value
    zh = format_amount(value, "CNY", "zh-CN")
    assert zh == f"人民币 {figure} 元"


@given(st.text(max_size=20))
def test_normalize_language_always_supported(tag: str) -> None:
    assert normalize_language(tag) in SUPPORTED_LANGUAGES


def test_format_date_both_languages() -> None:
    assert format_date("2025-03-15", "en") == "Saturday 15 March 2025"
    assert format_date(date(2025, 3, 15), "zh-CN") == "2025年3月15日（星期六）"


def test_date_of_a_datetime_is_the_beijing_date() -> None:
    # 20:00 UTC on the 14th is already the 15th in Beijing
    assert format_date("2025-03-14T20:00:00Z", "en") == "Saturday 15 March 2025"


def test_format_datetime_converts_to_beijing_time() -> None:
    eastern = timezone(timedelta(hours=-5))
    value = datetime(2025, 3, 14, 9, 30, tzinfo=eastern)  # 14:30 UTC = 22:30 Beijing
    assert format_datetime(value, "en") == "Friday 14 March 2025, 22:30 Beijing time (UTC+8)"
    zh = format_datetime(value.astimezone(UTC).isoformat(), "zh-CN")
    assert zh == "2025年3月14日（星期五）22:30（北京时间）"


@pytest.mark.parametrize("value", ["2025-03-14T09:30:00", datetime(2025, 3, 14, 9, 30), "tomorrow", 42])
def test_format_datetime_rejects_naive_or_garbage(value: object) -> None:
    with pytest.raises(ValueError):
        format_datetime(value, "en")  # type: ignore[arg-type]
