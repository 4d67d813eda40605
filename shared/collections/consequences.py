"""What a suspension does to each subscription type, and the dates after which it can no longer be undone (pure).

New-commerce subscriptions keep billing while suspended and expire if still suspended at term end; data may be
deleted if a subscription is not reactivated within ``SuspensionTerms.data_deletion_days`` (60 in 21Vianet's
documentation); a cancelled Azure subscription (entitlement) can be reactivated only within
``SuspensionTerms.azure_reactivation_days``. The team is warned ``alert_days_before`` each such date.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.collections.policy import SuspensionTerms

DeadlineKind = Literal["data_deletion", "term_end", "azure_reactivation"]
NO_TERM_AFTER = date(9000, 1, 1)  # Partner Center dates usage-based subscriptions' commitment end 9999-12-14


class Suspended(BaseModel):
    """One subscription (or Azure subscription under a plan) csp-guard suspended, with its Partner Center facts."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    subscription_id: str
    entitlement_id: str | None = None
    name: str
    kind: str  # azure_plan, azure_legacy, azure_subscription (under a plan), license, addon or unknown
    new_commerce: bool = False
    term_end: date | None = None
    suspended_at: datetime
    reason: str
    case_id: str | None = None
    status: str = "unknown"  # what Partner Center says now ("unknown" if it could not be read)


class Deadline(BaseModel):
    """A date after which a suspension can no longer be fully undone, and whether the team must hear of it now."""

    model_config = ConfigDict(frozen=True)

    item: Suspended
    kind: DeadlineKind
    on: date
    days_left: int
    policy_days: int  # the configured period behind ``on`` (0 for a term end, which is Partner Center's date)

    @property
    def key(self) -> str:
        """Alert once per subscription, kind and date (a new suspension or term gives a new date)."""
        target = self.item.entitlement_id or self.item.subscription_id
        return f"deadline:{self.item.customer_id}:{target}:{self.kind}:{self.on.isoformat()}"


def term_end(commitment_end: datetime | None) -> date | None:
    """The subscription's term end, or None for usage-based subscriptions without a term."""
    if commitment_end is None or commitment_end.date() >= NO_TERM_AFTER:
        return None
    return commitment_end.date()


def deadlines(item: Suspended, terms: SuspensionTerms, today: date) -> list[Deadline]:
    """Every point of no return for one suspended item."""
    since = item.suspended_at.date()
    out: list[tuple[DeadlineKind, date, int]] = []
    if item.entitlement_id is not None or item.kind == "azure_subscription":
        out.append(("azure_reactivation", since + timedelta(days=terms.azure_reactivation_days),
                    terms.azure_reactivation_days))
    else:
        out.append(("data_deletion", since + timedelta(days=terms.data_deletion_days), terms.data_deletion_days))
        if item.term_end is not None and item.term_end >= since:
            out.append(("term_end", item.term_end, 0))
    return [Deadline(item=item, kind=k, on=on, days_left=(on - today).days, policy_days=days) for k, on, days in out]


def due_alerts(items: Iterable[Suspended], terms: SuspensionTerms, today: date) -> list[Deadline]:
    """Deadlines within ``alert_days_before`` (or already passed) of items Partner Center still shows suspended
    or whose status is unknown; an item reactivated or deleted in Partner Center has no deadline left."""
    if terms.alert_days_before == 0:
        return []
    out = []
    for item in items:
        if item.status not in ("suspended", "unknown") and item.entitlement_id is None:
            continue
        out += [d for d in deadlines(item, terms, today) if d.days_left <= terms.alert_days_before]
    return sorted(out, key=lambda d: (d.on, d.item.customer_id, d.kind))


def consequence_items(items: Iterable[Suspended]) -> list[dict[str, object]]:
    """What a customer notice says per subscription (templates choose the wording by ``kind``)."""
    return [{"id": i.entitlement_id or i.subscription_id, "name": i.name, "kind": i.kind,
             "new_commerce": i.new_commerce, "term_end": i.term_end.isoformat() if i.term_end else ""}
            for i in items]
