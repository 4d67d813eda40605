"""Robust statistics on small float series (median / MAD); floats because these are scores, not money."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

MAD_TO_SIGMA = 1.4826


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def robust_center_scale(values: Sequence[float], rel_floor: float, abs_floor: float) -> tuple[float, float]:
    """Median and a MAD-based scale, floored so that a perfectly flat history does not make every
    small wobble look infinite."""
    m = median(values)
    mad = median([abs(v - m) for v in values])
    return m, max(MAD_TO_SIGMA * mad, rel_floor * abs(m), abs_floor)


def money(value: float | Decimal) -> Decimal:
    """Round a figure to cents for explanations."""
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
