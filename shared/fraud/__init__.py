"""Fraud and misuse detection engine: pure functions over usage history, profiles and a rules document.

Imports only the standard library, pydantic and yaml; no I/O, no environment, no clock
(``now`` is an argument).
"""

from shared.fraud.aggregate import aggregate, with_fraud_events
from shared.fraud.assess import Assessment, RuleHit, assess, assess_customer
from shared.fraud.backtest import BacktestReport, RuleFigures, backtest
from shared.fraud.case_actions import add_note, record_action, record_containment, resolve
from shared.fraud.cases import Case, CaseChange, CaseError, CaseStatus, ReactivationPlan, open_or_update
from shared.fraud.containment import ContainmentPlan, containment_plan
from shared.fraud.evidence import (
    ContainmentFacts,
    EvidencePack,
    containment_facts,
    containment_line,
    evidence_pack,
    render_markdown,
)
from shared.fraud.models import (
    CustomerProfile,
    DailySpend,
    FraudEvent,
    History,
    PeerBaseline,
    SpendNotice,
    UsageLine,
)
from shared.fraud.peers import peer_baselines
from shared.fraud.rules import FraudError, Outcome, Rules, RulesError, parse_rules
from shared.fraud.signals import Detector, Signal

__all__ = [
    "Assessment",
    "BacktestReport",
    "Case",
    "CaseChange",
    "CaseError",
    "CaseStatus",
    "ContainmentFacts",
    "ContainmentPlan",
    "CustomerProfile",
    "DailySpend",
    "Detector",
    "EvidencePack",
    "FraudError",
    "FraudEvent",
    "History",
    "Outcome",
    "PeerBaseline",
    "ReactivationPlan",
    "RuleFigures",
    "RuleHit",
    "Rules",
    "RulesError",
    "Signal",
    "SpendNotice",
    "UsageLine",
    "add_note",
    "aggregate",
    "assess",
    "assess_customer",
    "backtest",
    "containment_facts",
    "containment_line",
    "containment_plan",
    "evidence_pack",
    "open_or_update",
    "parse_rules",
    "peer_baselines",
    "record_action",
    "record_containment",
    "render_markdown",
    "resolve",
    "with_fraud_events",
]
