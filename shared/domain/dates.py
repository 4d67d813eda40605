"""The window of dates csp-guard accepts from outside (events, operator bodies, ``?at=``).

A date in year 9999 or year 1 is never a real invoice, payment or hold: it is a producer's placeholder
("no end") or a typo, and date arithmetic on it overflows (``date.max + 1 day``). Refusing it at the
ingress, with the window in the message, keeps one customer's bad data from breaking anyone's evaluation.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, TypeVar

from pydantic import AfterValidator, AwareDatetime, ValidationInfo

from shared.domain.ingress import from_storage

EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)


D = TypeVar("D", date, datetime)


def check_day(value: D) -> D:
    """``value`` if it lies in [EARLIEST, LATEST], else a ValueError naming the window."""
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"{value.isoformat()} is outside the accepted window {EARLIEST} to {LATEST} "
                         "(for a hold without an end, choose a real date and renew it)")
    return value


def parse_day(value: str | None) -> datetime | None:
    """An operator's ``YYYY-MM-DD`` or ISO timestamp (``?at=``, ``--at``) -> aware datetime (a date means 10:00 UTC
    that day); ValueError for anything else, or a day outside the accepted window."""
    if not value:
        return None
    if len(value) == 10:
        parsed = datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC).replace(hour=10)
    else:
        parsed = datetime.fromisoformat(value)
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return check_day(parsed)


def _at_ingress(value: D, info: ValidationInfo) -> D:
    return value if from_storage(info) else check_day(value)


Day = Annotated[date, AfterValidator(_at_ingress)]
"""A calendar date inside the accepted window."""
Instant = Annotated[AwareDatetime, AfterValidator(_at_ingress)]
"""A timezone-aware timestamp inside the accepted window."""
