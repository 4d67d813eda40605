"""Language-aware formatting of amounts, dates and times for notices (pure functions).

Customers of Partner Center operated by 21Vianet read times in Beijing time; China has no daylight
saving, so a fixed UTC+8 offset is exact and needs no time-zone database. Formats spell the month
(en) or use 年/月/日 (zh-CN) so that 03/04 can never be read as two different dates.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ENGLISH = "en"
CHINESE = "zh-CN"
SUPPORTED_LANGUAGES: tuple[str, ...] = (ENGLISH, CHINESE)
CHINA_TZ = timezone(timedelta(hours=8), "CST")

_MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "BHD": 3, "KWD": 3}
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")
_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ZH_WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


def normalize_language(tag: str | None) -> str:
    """Map a tag (``zh``, ``zh_cn``, ``zh-Hans-CN``, ``en-US``...) to a supported language; else English."""
    if not tag:
        return ENGLISH
    parts = tag.replace("_", "-").lower().split("-")
    if parts[0] == "zh" and not ({"tw", "hk", "mo", "hant"} & set(parts[1:])):
        return CHINESE
    return ENGLISH


def format_amount(amount: Decimal | int | str, currency: str, language: str = ENGLISH) -> str:
    """``Decimal("12345")``, ``"CNY"`` -> ``"CNY 12,345.00"`` (en) or ``"人民币 12,345.00 元"`` (zh-CN, CNY).

    Other currencies keep the ISO code in both languages."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"not an amount: {amount!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {amount!r}")
    code = currency.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"not an ISO 4217 currency code: {currency!r}")
    places = _MINOR_UNITS.get(code, 2)
    quantum = Decimal(1).scaleb(-places)
    figure = f"{value.quantize(quantum, rounding=ROUND_HALF_UP):,.{places}f}"
    if normalize_language(language) == CHINESE and code == "CNY":
        return f"人民币 {figure} 元"
    return f"{code} {figure}"


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return _as_datetime(value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            if "T" in value or " " in value.strip():
                return _as_datetime(value).date()
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO date: {value!r}") from None
    raise ValueError(f"not a date: {value!r}")


def _as_datetime(value: datetime | str) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO date-time: {value!r}") from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise ValueError(f"not a date-time: {value!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"date-time without a time zone is ambiguous: {value!r}")
    return parsed.astimezone(CHINA_TZ)


def format_date(value: date | str, language: str = ENGLISH) -> str:
    """``2025-03-15`` -> ``"Saturday 15 March 2025"`` / ``"2025年3月15日（星期六）"``.

    A date-time is first converted to Beijing time, so the date is the one the customer sees.
    """
    d = _as_date(value)
    if normalize_language(language) == CHINESE:
        return f"{d.year}年{d.month}月{d.day}日（{_ZH_WEEKDAYS[d.weekday()]}）"
    return f"{_EN_WEEKDAYS[d.weekday()]} {d.day} {_EN_MONTHS[d.month - 1]} {d.year}"


def format_datetime(value: datetime | str, language: str = ENGLISH) -> str:
    """An aware date-time in Beijing time: ``"Saturday 15 March 2025, 18:00 Beijing time (UTC+8)"``
    / ``"2025年3月15日（星期六）18:00（北京时间）"``. Naive values are rejected, not guessed."""
    dt = _as_datetime(value)
    clock = f"{dt.hour:02d}:{dt.minute:02d}"
    if normalize_language(language) == CHINESE:
        return f"{format_date(dt.date(), CHINESE)}{clock}（北京时间）"
    return f"{format_date(dt.date(), ENGLISH)}, {clock} Beijing time (UTC+8)"
