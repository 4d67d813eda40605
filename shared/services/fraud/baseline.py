"""The declared baseline on the operator path: expected monthly spend, prepayment, planned changes and the
onboarding date go in as a ``customer.updated`` event, the same path (queue, ledger) the partner's systems use,
so one place holds what detection compares usage with."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared.clock import utcnow
from shared.domain import CustomerUpdated
from shared.services.errors import InvalidRequest

if TYPE_CHECKING:
    from shared.ports import Ports

BASELINE_FIELDS = ("expected_monthly_spend", "prepayment", "planned_changes", "onboarded_on")


class InvalidBaseline(InvalidRequest):
    """The declared baseline does not validate; the message names each field (HTTP 400)."""


def baseline_event(customer_id: str, fields: dict[str, Any]) -> CustomerUpdated:
    """A ``customer.updated`` carrying only the declared-baseline fields given (others are refused)."""
    unknown = sorted(set(fields) - set(BASELINE_FIELDS))
    if unknown or not fields:
        raise InvalidBaseline(f"declare at least one of {list(BASELINE_FIELDS)}; unknown: {unknown}")
    try:
        return CustomerUpdated.model_validate({"event_id": f"baseline-{uuid.uuid4().hex}", "customer_id": customer_id,
                                               "occurred_at": utcnow(), **fields})
    except ValidationError as exc:
        raise InvalidBaseline("; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
                                        for e in exc.errors())) from exc


def declare_baseline(ctx: Ports, customer_id: str, fields: dict[str, Any], actor: str) -> CustomerUpdated:
    """Validate and queue the declaration; the next scan after the ledger applied it uses it."""
    from shared.services.payments import enqueue_events

    event = baseline_event(customer_id, fields)
    # the route passes the signed-in actor ("operator:ana"); the CLI passes a bare name
    enqueue_events(ctx, [event], source=actor if actor.startswith(("operator:", "system:")) else f"operator:{actor}")
    return event
