"""Evidence pack for a service request to 21Vianet: what was seen, with figures, and what was done, when."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from shared.fraud.cases import Case, EntryKind, TimelineEntry
from shared.fraud.signals import Signal


class EvidencePack(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    customer_id: str
    customer_name: str
    status: str
    generated_at: datetime
    rules_version: str
    subscriptions: tuple[str, ...]
    suspended: tuple[str, ...]
    signals: tuple[Signal, ...]
    actions: tuple[TimelineEntry, ...]
    amount_at_risk: Decimal
    response_time_minutes: float | None


def evidence_pack(case: Case, now: datetime, customer_name: str = "") -> EvidencePack:
    """Collect a case's signals and actions; ``now`` is when the pack was generated."""
    signals: dict[str, Signal] = {}
    for h in case.hits:
        signals.setdefault(h.signal.key, h.signal)
    subs = sorted({s for sig in signals.values() for s in sig.subscription_ids} | set(case.suspended))
    rt = case.response_time
    return EvidencePack(
        case_id=case.case_id,
        customer_id=case.customer_id,
        customer_name=customer_name,
        status=case.status.value,
        generated_at=now,
        rules_version=case.rules_version,
        subscriptions=tuple(subs),
        suspended=case.suspended,
        signals=tuple(sorted(signals.values(), key=lambda s: (s.day, s.detector.value))),
        actions=tuple(e for e in case.timeline if e.kind in (EntryKind.ACTION, EntryKind.OUTCOME)),
        amount_at_risk=max((s.amount_at_risk for s in signals.values()), default=Decimal(0)),
        response_time_minutes=None if rt is None else round(rt.total_seconds() / 60, 1),
    )


def render_markdown(pack: EvidencePack) -> str:
    """Plain-text/markdown rendering for an e-mail or a ticket body."""
    name = f" ({pack.customer_name})" if pack.customer_name else ""
    out = [
        f"# Suspected misuse: customer {pack.customer_id}{name}",
        "",
        f"- Case: {pack.case_id} ({pack.status})",
        f"- Generated: {pack.generated_at.isoformat()}",
        f"- Rules version: {pack.rules_version}",
        f"- Amount at risk: {pack.amount_at_risk}",
        f"- Subscriptions concerned: {', '.join(pack.subscriptions) or '-'}",
        f"- Suspended for fraud investigation: {', '.join(pack.suspended) or '-'}",
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
