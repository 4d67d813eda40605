"""The one shape every detector returns, so rules, cases and evidence packs treat them alike."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

Figure = Decimal | int | float | str


class Detector(StrEnum):
    """Detector names, as used by the rules file."""

    SPEND_SPIKE = "spend_spike"
    NEW_CUSTOMER = "new_customer"
    VELOCITY = "velocity"
    RISKY_METER = "risky_meter"
    NEW_REGION = "new_region"
    SUBSCRIPTION_BURST = "subscription_burst"
    FRAUD_EVENT = "fraud_event"


class Signal(BaseModel):
    """One reason to look at a customer, with the figures behind it."""

    model_config = ConfigDict(frozen=True)

    detector: Detector
    customer_id: str
    day: date
    subscription_ids: tuple[str, ...] = ()  # Partner Center subscriptions (an Azure plan, a licence)
    entitlement_ids: tuple[str, ...] = ()  # Azure subscriptions (entitlements) under an Azure plan above
    meters: tuple[str, ...] = ()  # meter categories/names responsible
    regions: tuple[str, ...] = ()  # regions responsible
    why: str
    figures: dict[str, Figure]
    amount_at_risk: Decimal = Decimal(0)
    ref: str = ""

    @property
    def key(self) -> str:
        """Identity of the observation: the same key seen twice is the same signal, not a new one."""
        subs = ",".join(self.subscription_ids) or "*"
        if self.entitlement_ids:  # a second Azure subscription of the same plan, same day, is another observation
            subs += "/" + ",".join(self.entitlement_ids)
        return f"{self.detector.value}:{self.customer_id}:{subs}:{self.day.isoformat()}:{self.ref}"
