"""Detectors: pure functions ``(context, params) -> list[Signal]`` for one customer and one usage day.

The detectors live by concern (``detect_spend``, ``detect_usage``, ``detect_money``); this module is the
table the rules evaluator dispatches on. A detector only reads usage days strictly before ``now``'s date.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.fraud.context import Context
from shared.fraud.detect_money import detect_fraud_event, detect_velocity
from shared.fraud.detect_spend import detect_new_customer, detect_spend_spike
from shared.fraud.detect_usage import detect_new_region, detect_risky_meter, detect_subscription_burst
from shared.fraud.params import (
    FraudEventParams,
    NewCustomerParams,
    NewRegionParams,
    Params,
    RiskyMeterParams,
    SpikeParams,
    SubscriptionBurstParams,
    VelocityParams,
)
from shared.fraud.signals import Detector, Signal

DetectorFn = Callable[[Context, Any], list[Signal]]

REGISTRY: dict[Detector, tuple[type[Params], DetectorFn]] = {
    Detector.SPEND_SPIKE: (SpikeParams, detect_spend_spike),
    Detector.NEW_CUSTOMER: (NewCustomerParams, detect_new_customer),
    Detector.VELOCITY: (VelocityParams, detect_velocity),
    Detector.RISKY_METER: (RiskyMeterParams, detect_risky_meter),
    Detector.NEW_REGION: (NewRegionParams, detect_new_region),
    Detector.SUBSCRIPTION_BURST: (SubscriptionBurstParams, detect_subscription_burst),
    Detector.FRAUD_EVENT: (FraudEventParams, detect_fraud_event),
}
"""Detector name -> (its parameter model, its function): the table the rules evaluator dispatches on."""

__all__ = ["REGISTRY", "Context", "DetectorFn", "Params"]
