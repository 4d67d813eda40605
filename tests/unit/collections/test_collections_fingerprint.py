"""The fingerprint names the evaluation instant exactly as given, whatever evaluations came before it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from _collections_builders import CAL, POLICY, issued, ledger

from shared.collections import evaluate

LEDGER = ledger(issued("i1", "500.00", date(2026, 6, 1)))


def _fp(now: datetime) -> str:
    return evaluate(LEDGER, None, POLICY, CAL, now).fingerprint


def test_one_instant_written_in_other_zones_or_folds_is_fingerprinted_as_written() -> None:
    sh = datetime(2026, 7, 1, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    same = [sh, sh.astimezone(UTC), sh.astimezone(timezone(timedelta(hours=8)))]
    assert len({_fp(t) for t in same}) == 2  # +08:00 twice (zone name aside), +00:00 once: the ISO text counts
    assert _fp(same[1]) == _fp(same[1]) != _fp(same[0])
    first = datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"))  # the repeated hour
    second = first.replace(fold=1)
    assert first == second  # equal as Python compares them (same zone), yet an hour apart
    assert _fp(first) != _fp(second)
    assert _fp(first) == _fp(first.replace())  # a fresh but equal value: the same fingerprint
