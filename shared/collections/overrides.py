"""Operator overrides: exemptions, promises to pay and manual holds, plus the blocks they cause.

They are state set by people (through HTTP later), kept apart from the ledger's facts. Everything here
is pure: ``active_blocks`` reads the overrides, the ledger's in-transit holds and ``now``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from shared.collections.ledger import CustomerLedger
from shared.domain import Money
from shared.domain.dates import Day
from shared.domain.events import Text
from shared.domain.ingress import from_storage
from shared.domain.money import check_minor_units

_Frozen = ConfigDict(frozen=True, extra="forbid")


class Exemption(BaseModel):
    """No collections actions for this customer until ``expires_on`` (inclusive), approved by a person."""

    model_config = _Frozen
    reason: Text
    approver: Text
    starts_on: Day
    expires_on: Day

    @model_validator(mode="after")
    def _ordered(self) -> Exemption:
        if self.expires_on < self.starts_on:
            raise ValueError("expires_on is before starts_on")
        return self


class PromiseToPay(BaseModel):
    """The customer promised ``amount`` by ``promised_date``; broken when less was paid by date + grace."""

    model_config = _Frozen
    promise_id: Text
    amount: Money
    promised_date: Day
    grace_days: int = Field(default=2, ge=0, le=30)
    made_at: datetime
    recorded_by: Text

    @model_validator(mode="after")
    def _in_minor_units(self, info: ValidationInfo) -> PromiseToPay:
        if not from_storage(info):
            check_minor_units(self.amount.amount, self.amount.currency)
        return self


class ManualHold(BaseModel):
    """A person paused harmful actions until ``until`` (inclusive)."""

    model_config = _Frozen
    reason: Text
    set_by: Text
    until: Day


class CustomerOverrides(BaseModel):
    model_config = _Frozen
    exemptions: tuple[Exemption, ...] = ()
    promises: tuple[PromiseToPay, ...] = ()
    holds: tuple[ManualHold, ...] = ()


NO_OVERRIDES = CustomerOverrides()

PromiseStatus = Literal["pending", "kept", "broken"]
BlockKind = Literal["exempt", "promise_to_pay", "in_transit", "manual_hold"]


class Block(BaseModel):
    """Something that stops actions now, with the date it ends (the next review)."""

    model_config = _Frozen
    kind: BlockKind
    until: date
    detail: str


def promise_status(
    promise: PromiseToPay, ledger: CustomerLedger, today: date, end: datetime
) -> PromiseStatus:
    """``kept`` once payments since the promise reach its amount; ``broken`` when the deadline passes first.

    ``end`` bounds the payments counted (the evaluation instant), so a later re-run sees the same answer.
    """
    paid: Decimal = ledger.summary.paid_between(promise.amount.currency, promise.made_at, end)
    if paid >= promise.amount.amount:
        return "kept"
    deadline = promise.promised_date + timedelta(days=promise.grace_days)
    return "broken" if today > deadline else "pending"


def active_blocks(
    overrides: CustomerOverrides, ledger: CustomerLedger, today: date, now: datetime
) -> tuple[list[Block], list[str]]:
    """Blocks in force today, and notes about promises that were broken (for the decision's reasons)."""
    blocks: list[Block] = []
    notes: list[str] = []
    for ex in overrides.exemptions:
        if ex.starts_on <= today <= ex.expires_on:
            blocks.append(
                Block(
                    kind="exempt",
                    until=ex.expires_on,
                    detail=f"exempt: {ex.reason} (approved by {ex.approver})",
                )
            )
    for p in overrides.promises:
        status = promise_status(p, ledger, today, now)
        if status == "pending":
            until = p.promised_date + timedelta(days=p.grace_days)
            blocks.append(
                Block(
                    kind="promise_to_pay",
                    until=until,
                    detail=f"promise to pay {p.amount} by {p.promised_date}",
                )
            )
        elif status == "broken":
            notes.append(f"promise {p.promise_id} to pay {p.amount} by {p.promised_date} was broken")
    for h in ledger.transit_holds:
        if today <= h.hold_until:
            blocks.append(
                Block(
                    kind="in_transit",
                    until=h.hold_until,
                    detail=f"payment in transit, reference {h.reference}",
                )
            )
    for m in overrides.holds:
        if today <= m.until:
            blocks.append(
                Block(kind="manual_hold", until=m.until, detail=f"manual hold: {m.reason} by {m.set_by}")
            )
    return blocks, notes
