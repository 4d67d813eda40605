"""The collections engine: pure (ledger, overrides, policy, calendar, now, notices, case) -> Decision.

Imports only ``shared.domain``, the standard library and pydantic / PyYAML / holidays / chinese-calendar /
Jinja2. No storage, HTTP, environment or clock: callers pass ``now`` and load files themselves.
"""

from shared.collections.calendar import Calendar, CalendarError, CalendarOverrides
from shared.collections.decision import (
    Action,
    Approval,
    CollectionsCase,
    Decision,
    Reason,
    SentNotice,
    Snapshot,
)
from shared.collections.errors import CollectionsError
from shared.collections.evaluate import evaluate
from shared.collections.ledger import CustomerLedger, LedgerError, apply_event, apply_events
from shared.collections.overrides import CustomerOverrides, Exemption, ManualHold, PromiseToPay
from shared.collections.policy import Policy, PolicyError, PolicySet, parse_policy
from shared.collections.policy_doc import render_policy_document
from shared.collections.preview import DecisionChange, diff_decisions, preview

__all__ = [
    "Action",
    "Approval",
    "Calendar",
    "CalendarError",
    "CalendarOverrides",
    "CollectionsCase",
    "CollectionsError",
    "CustomerLedger",
    "CustomerOverrides",
    "Decision",
    "DecisionChange",
    "Exemption",
    "LedgerError",
    "ManualHold",
    "Policy",
    "PolicyError",
    "PolicySet",
    "PromiseToPay",
    "Reason",
    "SentNotice",
    "Snapshot",
    "apply_event",
    "apply_events",
    "diff_decisions",
    "evaluate",
    "parse_policy",
    "preview",
    "render_policy_document",
]
