"""``assess``: run every rule's detector for each customer and decide an outcome, with reasons."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.fraud.detectors import Context
from shared.fraud.explain import Language
from shared.fraud.models import CustomerProfile, FraudEvent, History, PeerBaseline
from shared.fraud.peers import PeerIndex, peer_for
from shared.fraud.rules import ContainmentScope, Outcome, Rules
from shared.fraud.signals import Detector, Signal


class RuleHit(BaseModel):
    """A rule whose detector fired, and what it asks for."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    outcome: Outcome
    shadow: bool
    requires_approval: bool
    signal: Signal
    containment: ContainmentScope = "affected"  # what a contain hit suspends (the rule's ``containment``)


class Assessment(BaseModel):
    """The decision for one customer at one moment, with everything needed to explain and replay it."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    assessed_at: datetime
    rules_version: str
    segment: str
    outcome: Outcome
    requires_approval: bool
    listed: Literal["allow", "block"] | None = None
    hits: tuple[RuleHit, ...] = ()
    shadow_hits: tuple[RuleHit, ...] = ()
    explanations: tuple[str, ...] = ()
    input_fingerprint: str

    @property
    def signals(self) -> tuple[Signal, ...]:
        """Distinct signals behind the acting hits."""
        seen: dict[str, Signal] = {}
        for h in self.hits:
            seen.setdefault(h.signal.key, h.signal)
        return tuple(seen.values())

    @property
    def subscriptions_to_contain(self) -> tuple[str, ...]:
        """Subscriptions named by containing hits (empty: the containment is customer-wide)."""
        return tuple(
            sorted({s for h in self.hits if h.outcome is Outcome.CONTAIN for s in h.signal.subscription_ids})
        )

    @property
    def amount_at_risk(self) -> Decimal:
        return max((h.signal.amount_at_risk for h in self.hits), default=Decimal(0))


def _fingerprint(
    customer_id: str,
    history: History,
    profile: CustomerProfile | None,
    rules: Rules,
    now: datetime,
    peer: PeerBaseline | None,
    events: tuple[FraudEvent, ...],
) -> str:
    """Hash of the inputs behind a decision: same inputs, same fingerprint."""
    series = history.customers.get(customer_id)
    cutoff = now.date()
    days = "".join(series.daily[d].digest for d in series.floats[0] if d < cutoff) if series else ""
    parts = [
        customer_id,
        rules.version,
        cutoff.isoformat(),
        days,
        profile.model_dump_json() if profile else "",
        peer.model_dump_json() if peer else "",
        repr(sorted((e.event_id, e.event_status) for e in events if e.event_time <= now)),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _customers(history: History, profiles: Mapping[str, CustomerProfile]) -> list[str]:
    ids = set(history.customers) | set(profiles) | {e.customer_tenant_id for e in history.fraud_events}
    return sorted(ids)


def assess_customer(
    customer_id: str,
    history: History,
    profile: CustomerProfile | None,
    rules: Rules,
    now: datetime,
    peers: PeerIndex,
    events: tuple[FraudEvent, ...] = (),
    lookback_days: int | None = None,
    language: Language = "en",
) -> Assessment:
    """Evaluate every rule for one customer over each usage day of the look-back window (``lookback_days``,
    else the rules' ``evaluate_last_days``), so late usage and first-day signals are not lost; the same
    observation on two scans has the same signal key, so it is not raised twice."""
    segment = (profile.segment if profile else None) or rules.default_segment
    series = history.customers.get(customer_id)
    window = lookback_days or rules.evaluate_last_days
    days = [now.date() - timedelta(days=k) for k in range(window, 0, -1)]
    lists = rules.lists
    hits: list[RuleHit] = []
    shadow: list[RuleHit] = []
    notes: list[str] = []
    for rule, params, fn in rules.plan_for(segment):
        run_days = days[-1:] if rule.detector is Detector.FRAUD_EVENT else days
        for day in run_days:
            ctx = Context(customer_id, series, profile, day, now, peers, events, language, segment)
            for sig in fn(ctx, params):
                if sig.subscription_ids and all(s in lists.allow.subscriptions for s in sig.subscription_ids):
                    notes.append(
                        f"{rule.id}: ignored, subscription(s) {', '.join(sig.subscription_ids)} on the "
                        f"allow list"
                    )
                    continue
                hit = RuleHit(
                    rule_id=rule.id,
                    outcome=rule.outcome,
                    shadow=rule.shadow,
                    requires_approval=rule.needs_approval,
                    signal=sig,
                    containment=rule.containment,
                )
                (shadow if rule.shadow else hits).append(hit)
    listed: Literal["allow", "block"] | None = None
    blocked_subs = sorted(set(series.subscriptions) & lists.block.subscriptions) if series else []
    if customer_id in lists.block.customers or blocked_subs:
        listed = "block"
        outcome = Outcome.CONTAIN
        what = f"subscription(s) {', '.join(blocked_subs)}" if blocked_subs else "customer"
        notes.insert(0, f"block list: {what} listed, outcome contain whatever the detectors found")
    elif customer_id in lists.allow.customers:
        listed = "allow"
        outcome = Outcome.ALLOW
        notes.insert(0, "allow list: outcome allow whatever the detectors found")
    else:
        outcome = max((h.outcome for h in hits), key=lambda o: o.rank, default=Outcome.ALLOW)
    approval = outcome is Outcome.CONTAIN and (
        listed == "block" or any(h.requires_approval for h in hits if h.outcome is Outcome.CONTAIN)
    )
    explanations = [f"{h.rule_id} -> {h.outcome.value}: {h.signal.why}" for h in hits]
    explanations += [f"{h.rule_id} (shadow, no action) -> {h.outcome.value}: {h.signal.why}" for h in shadow]
    return Assessment(
        customer_id=customer_id,
        assessed_at=now,
        rules_version=rules.version,
        segment=segment,
        outcome=outcome,
        requires_approval=approval,
        listed=listed,
        hits=tuple(hits),
        shadow_hits=tuple(shadow),
        explanations=tuple(notes + explanations),
        input_fingerprint=_fingerprint(
            customer_id, history, profile, rules, now, peer_for(peers, segment, None), events
        ),
    )


def assess(
    history: History,
    profiles: Mapping[str, CustomerProfile],
    rules: Rules,
    now: datetime,
    peers: PeerIndex | None = None,
    lookback_days: int | None = None,
    language: Language = "en",
) -> list[Assessment]:
    """One ``Assessment`` per customer known from usage, profiles or fraud events, sorted by customer id."""
    events: dict[str, list[FraudEvent]] = {}
    for e in history.fraud_events:
        events.setdefault(e.customer_tenant_id, []).append(e)
    return [
        assess_customer(c, history, profiles.get(c), rules, now, peers or {}, tuple(events.get(c, ())),
                        lookback_days, language)
        for c in _customers(history, profiles)
    ]
