"""Evidence pack for a service request to 21Vianet: what was seen, with figures, what was done, when, and the
containment outcome exactly as Partner Center reported it (pure)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from shared.fraud.cases import Case, ContainmentStatus, EntryKind, TimelineEntry
from shared.fraud.signals import Signal


class ContainmentFacts(BaseModel):
    """The containment a pack may state: Partner Center's verified outcome, never what was only asked for.

    ``known`` is False while the outcome is still ``requested``: a pack generated then must say so.
    """

    model_config = ConfigDict(frozen=True)

    status: ContainmentStatus
    detail: str = ""
    verified_at: datetime | None = None
    requested_at: datetime | None = None
    targets: tuple[str, ...] = ()
    contained: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    errors: dict[str, str] = Field(default_factory=dict)  # failed target -> what Partner Center showed/answered

    @property
    def known(self) -> bool:
        return self.status is not ContainmentStatus.REQUESTED


def containment_facts(case: Case) -> ContainmentFacts:
    """The case's containment as verified; a case recorded before ``Case.containment`` existed falls back to its
    suspensions read back from the enforcement records (``case.suspended``)."""
    c = case.containment
    requested_at = next((e.at for e in reversed(case.timeline)
                         if e.kind is EntryKind.ACTION and e.text.startswith("containment requested")), None)
    if c.status is not ContainmentStatus.NONE:
        return ContainmentFacts(status=c.status, detail=c.detail, verified_at=c.verified_at,
                                requested_at=requested_at, targets=c.targets, contained=c.contained, failed=c.failed,
                                errors=c.errors)
    if case.suspended:
        return ContainmentFacts(status=ContainmentStatus.CONTAINED, verified_at=case.contained_at,
                                requested_at=requested_at, targets=case.suspended, contained=case.suspended)
    return ContainmentFacts(status=ContainmentStatus.NONE)


class EvidencePack(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    customer_id: str
    customer_name: str
    status: str
    generated_at: datetime
    opened_at: datetime
    rules_version: str
    subscriptions: tuple[str, ...]  # Partner Center subscriptions concerned (signals and containment)
    azure_subscriptions: tuple[str, ...]  # "plan-id/entitlement-id" of the Azure subscriptions concerned
    meters: tuple[str, ...]
    regions: tuple[str, ...]
    suspended: tuple[str, ...]
    signals: tuple[Signal, ...]
    actions: tuple[TimelineEntry, ...]
    timeline: tuple[TimelineEntry, ...]  # signals, actions and outcomes in time order (notes stay internal)
    amount_at_risk: Decimal
    response_time_minutes: float | None
    containment: ContainmentFacts


def _azure(signal: Signal) -> set[str]:
    """"plan/entitlement" when the signal names one Azure plan, else the bare Azure subscription ids."""
    plan = signal.subscription_ids[0] if len(signal.subscription_ids) == 1 else ""
    return {f"{plan}/{e}" if plan else e for e in signal.entitlement_ids}


def evidence_pack(case: Case, now: datetime, customer_name: str = "") -> EvidencePack:
    """Collect a case's signals, actions and containment; ``now`` is when the pack was generated."""
    signals: dict[str, Signal] = {}
    for h in case.hits:
        signals.setdefault(h.signal.key, h.signal)
    facts = containment_facts(case)
    azure = sorted({a for s in signals.values() for a in _azure(s)} | {t for t in facts.targets if "/" in t})
    subs = sorted({s for sig in signals.values() for s in sig.subscription_ids} | set(case.suspended)
                  | {t.split("/", 1)[0] for t in facts.targets})
    rt = case.response_time
    shown = (EntryKind.SIGNAL, EntryKind.ACTION, EntryKind.OUTCOME)
    return EvidencePack(
        case_id=case.case_id,
        customer_id=case.customer_id,
        customer_name=customer_name,
        status=case.status.value,
        generated_at=now,
        opened_at=case.opened_at,
        rules_version=case.rules_version,
        subscriptions=tuple(subs),
        azure_subscriptions=tuple(azure),
        meters=tuple(sorted({m for s in signals.values() for m in s.meters})),
        regions=tuple(sorted({r for s in signals.values() for r in s.regions})),
        suspended=case.suspended,
        signals=tuple(sorted(signals.values(), key=lambda s: (s.day, s.detector.value))),
        actions=tuple(e for e in case.timeline if e.kind in (EntryKind.ACTION, EntryKind.OUTCOME)),
        timeline=tuple(sorted((e for e in case.timeline if e.kind in shown), key=lambda e: e.at)),
        amount_at_risk=max((s.amount_at_risk for s in signals.values()), default=Decimal(0)),
        response_time_minutes=None if rt is None else round(rt.total_seconds() / 60, 1),
        containment=facts,
    )


def containment_line(facts: ContainmentFacts) -> str:
    """One English line stating the verified containment outcome (no claim beyond it)."""
    at = f" at {facts.verified_at.isoformat()}" if facts.verified_at else ""
    if facts.status is ContainmentStatus.CONTAINED:
        return f"contained{at} (verified): {', '.join(facts.contained)}"
    if facts.status is ContainmentStatus.PARTIAL:
        detail = f": {facts.detail}" if facts.detail else ""
        return (f"partial{at} (verified): contained {', '.join(facts.contained) or '-'}; "
                f"still active or refused {', '.join(facts.failed) or '-'}{detail}")
    if facts.status is ContainmentStatus.FAILED:
        return f"containment failed{at}: {facts.detail or 'refused'}; nothing verified suspended"
    if facts.status is ContainmentStatus.REQUESTED:
        return "containment requested, outcome not yet confirmed by Partner Center; nothing may be assumed suspended"
    return "no containment: nothing suspended or disabled"


def render_markdown(pack: EvidencePack) -> str:
    """Plain-text/markdown rendering (English) for logs and a ticket body."""
    name = f" ({pack.customer_name})" if pack.customer_name else ""
    out = [
        f"# Suspected misuse: customer {pack.customer_id}{name}",
        "",
        f"- Case: {pack.case_id} ({pack.status})",
        f"- Generated: {pack.generated_at.isoformat()}",
        f"- Rules version: {pack.rules_version}",
        f"- Amount at risk: {pack.amount_at_risk}",
        f"- Subscriptions concerned: {', '.join(pack.subscriptions) or '-'}",
        f"- Azure subscriptions concerned: {', '.join(pack.azure_subscriptions) or '-'}",
        f"- Meters: {', '.join(pack.meters) or '-'}; regions: {', '.join(pack.regions) or '-'}",
        f"- Containment: {containment_line(pack.containment)}",
        "- Response time (first signal to first action): "
        + (
            f"{pack.response_time_minutes} min" if pack.response_time_minutes is not None else "no action yet"
        ),
        "",
        "## Signals",
        "",
    ]
    for s in pack.signals:
        figures = ", ".join(f"{k}={v}" for k, v in s.figures.items())
        subs = f" [{', '.join(s.subscription_ids)}]" if s.subscription_ids else ""
        out += [f"- {s.day} {s.detector.value}{subs}: {s.why}", f"  - figures: {figures}"]
    out += ["", "## Actions", ""]
    out += [
        f"- {e.at.isoformat()} {e.kind.value} by {e.by}: {e.text}"
        + (f" [{', '.join(e.subscription_ids)}]" if e.subscription_ids else "")
        for e in pack.actions
    ] or ["- none"]
    return "\n".join(out) + "\n"
