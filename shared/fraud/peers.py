"""Peer baselines: what established customers of a segment and size band spend a day, for tenants without
history. Robust (medians of each customer's own median day), replayable (only days before ``before``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal

from shared.fraud.models import CustomerProfile, CustomerSeries, History, PeerBaseline
from shared.fraud.stats import median

ALL = "*"
BANDS: tuple[tuple[float, str], ...] = (
    (100.0, "<100/day"), (1000.0, "100-1k/day"), (10000.0, "1k-10k/day"), (float("inf"), ">=10k/day"))
"""Size bands by typical daily spend: a tenant is compared with customers of its own size, never with one
percentile across all (which the largest customers lift)."""

PEER_WINDOW_DAYS = 28
PEER_MIN_HISTORY_DAYS = 28

PeerIndex = Mapping[tuple[str, str], PeerBaseline]


def band_of(daily: float) -> str:
    return next(name for upper, name in BANDS if daily < upper)


def peer_figure(series: CustomerSeries, before: date, window_days: int = PEER_WINDOW_DAYS,
                min_history_days: int = PEER_MIN_HISTORY_DAYS) -> tuple[float, int] | None:
    """(median daily spend over the window, consuming subscriptions) of an established customer, else None."""
    days = [d for d in series.by_day if d < before]
    if not days or (before - min(days)).days < min_history_days:
        return None
    lo = before - timedelta(days=window_days)
    by_day = series.by_day
    units = sum(1 for s in series.subscriptions.values() if any(lo <= d < before for d in s))
    return median([by_day.get(lo + timedelta(days=k), 0.0) for k in range(window_days)]), units


def baselines(figures: Iterable[tuple[str, float, int]]) -> tuple[PeerBaseline, ...]:
    """Baselines per (segment, band), per segment and per band across segments, from (segment, daily, units)."""
    groups: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for segment, daily, units in figures:
        band = band_of(daily)
        for key in ((segment, band), (segment, ALL), (ALL, band), (ALL, ALL)):
            groups.setdefault(key, []).append((daily, units))
    return tuple(_baseline(seg, band, vals) for (seg, band), vals in sorted(groups.items()))


def _p90(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def _baseline(segment: str, band: str, values: list[tuple[float, int]]) -> PeerBaseline:
    spend = sorted(v for v, _ in values)
    units = sorted(float(u) for _, u in values)
    return PeerBaseline(segment=segment, band=band, median_daily=Decimal(str(round(median(spend), 2))),
                        p90_daily=Decimal(str(round(_p90(spend), 2))), customers=len(spend),
                        p90_subscriptions=int(_p90(units)))


def index(peers: Iterable[PeerBaseline]) -> dict[tuple[str, str], PeerBaseline]:
    return {(p.segment, p.band): p for p in peers}


def peer_baselines(
    history: History,
    profiles: Mapping[str, CustomerProfile],
    before: date,
    min_history_days: int = PEER_MIN_HISTORY_DAYS,
    window_days: int = PEER_WINDOW_DAYS,
    default_segment: str = "default",
) -> dict[tuple[str, str], PeerBaseline]:
    """Per-(segment, size band) daily spend of established customers, keyed by (segment, band)."""
    figures = []
    for cid, series in history.customers.items():
        fig = peer_figure(series, before, window_days, min_history_days)
        if fig is not None:
            prof = profiles.get(cid)
            figures.append(((prof.segment if prof else None) or default_segment, *fig))
    return index(baselines(figures))


def peer_for(peers: PeerIndex, segment: str, expected_daily: float | None) -> PeerBaseline | None:
    """The peers a tenant is compared with: its segment and the band of its declared spend; without a
    declaration, the segment's most common band (the typical customer of the segment)."""
    if expected_daily is not None:
        band = band_of(expected_daily)
        return peers.get((segment, band)) or peers.get((ALL, band))
    in_segment = [p for (seg, band), p in peers.items() if seg == segment and band != ALL]
    if not in_segment:
        in_segment = [p for (seg, band), p in peers.items() if seg == ALL and band != ALL]
    return max(in_segment, key=lambda p: (p.customers, -float(p.median_daily)), default=None)
