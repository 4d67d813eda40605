"""Replay stored daily history through the rules, day by day, and report what would have been flagged."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict

from shared.fraud.assess import assess
from shared.fraud.models import CustomerProfile, History
from shared.fraud.peers import PeerIndex, peer_baselines
from shared.fraud.rules import Outcome, Rules


class RuleFigures(BaseModel):
    """What one rule (or ``overall``: any acting hit) would have flagged over the period."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    shadow: bool = False
    hits: int = 0
    customers: tuple[str, ...] = ()
    first_flagged: dict[str, date] = {}
    true_positives: int | None = None
    false_positives: int | None = None
    false_negatives: int | None = None
    precision: float | None = None
    recall: float | None = None


class BacktestReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    rules_version: str
    start: date
    end: date
    days: int
    assessments: int
    outcomes: dict[str, int]
    rules: tuple[RuleFigures, ...]
    overall: RuleFigures


def _figures(
    rule_id: str, shadow: bool, hits: int, first: dict[str, date], labels: Mapping[str, bool] | None
) -> RuleFigures:
    base = RuleFigures(
        rule_id=rule_id,
        shadow=shadow,
        hits=hits,
        customers=tuple(sorted(first)),
        first_flagged=dict(sorted(first.items())),
    )
    if labels is None:
        return base
    flagged = {c for c in first if c in labels}
    positives = {c for c, bad in labels.items() if bad}
    tp, fp, fn = len(flagged & positives), len(flagged - positives), len(positives - flagged)
    return base.model_copy(
        update={
            "true_positives": tp,
            "false_positives": fp,
            "false_negatives": fn,
            "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None,
        }
    )


def backtest(
    history: History,
    profiles: Mapping[str, CustomerProfile],
    rules: Rules,
    start: date,
    end: date,
    labels: Mapping[str, bool] | None = None,
    peers: PeerIndex | None = None,
    hour: int = 6,
) -> BacktestReport:
    """Assess as if run at ``hour`` o'clock the day after each usage day ``start``..``end``.

    ``labels`` maps customer id -> True (fraud) / False (legitimate); precision and recall count labelled
    customers only. Without ``peers``, peer baselines are recomputed weekly from history before each run day.
    Shadow rules are reported like the others; ``overall`` counts assessments whose outcome is not allow.
    """
    hits: dict[str, int] = {r.id: 0 for r in rules.rules}
    first: dict[str, dict[str, date]] = {r.id: {} for r in rules.rules}
    overall_first: dict[str, date] = {}
    overall_hits = 0
    outcomes: dict[str, int] = {o.value: 0 for o in Outcome}
    day_peers: PeerIndex = peers or {}
    n_days = (end - start).days + 1
    total = 0
    for k in range(n_days):
        day = start + timedelta(days=k)
        now = datetime.combine(day + timedelta(days=1), time(hour))
        if peers is None and (k == 0 or day.weekday() == 0):
            day_peers = peer_baselines(
                history, profiles, before=now.date(), default_segment=rules.default_segment
            )
        for a in assess(history, profiles, rules, now, day_peers):
            total += 1
            outcomes[a.outcome.value] += 1
            for h in (*a.hits, *a.shadow_hits):
                hits[h.rule_id] += 1
                first[h.rule_id].setdefault(a.customer_id, h.signal.day)
            if a.outcome is not Outcome.ALLOW:
                overall_hits += 1
                overall_first.setdefault(a.customer_id, day)
    per_rule = tuple(_figures(r.id, r.shadow, hits[r.id], first[r.id], labels) for r in rules.rules)
    return BacktestReport(
        rules_version=rules.version,
        start=start,
        end=end,
        days=n_days,
        assessments=total,
        outcomes=outcomes,
        rules=per_rule,
        overall=_figures("overall", False, overall_hits, overall_first, labels),
    )
