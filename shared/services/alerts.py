"""Team alerts that are not about one enforcement action: a customer that cannot be evaluated, a sweep with
errors, holiday data about to run out, a silent payment feed. Each goes out once per ``key`` (the
notifications worker's idempotency), by e-mail to the collections contact or the team webhook."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from shared.messaging import Queue
from shared.services.messages import CollectionsNotice

if TYPE_CHECKING:
    from shared.ports import Ports

ALERT_TEMPLATE = "team_alert"
PORTFOLIO = "*"
"""The customer id of an alert about the whole portfolio."""


class AlertKind(StrEnum):
    EVALUATION_FAILED = "evaluation-failed"
    SWEEP_ERRORS = "sweep-errors"
    CALENDAR_ENDING = "calendar-ending"
    PAYMENT_FEED_SILENT = "payment-feed-silent"
    PROFILE_CHANGED_WHILE_PENDING = "profile-changed-while-pending"
    ENFORCEMENT_BLOCKED = "enforcement-blocked"


TITLES: dict[AlertKind, str] = {
    AlertKind.EVALUATION_FAILED: "A customer cannot be evaluated",
    AlertKind.SWEEP_ERRORS: "A collections sweep could not evaluate some customers",
    AlertKind.CALENDAR_ENDING: "Official holiday data is about to run out",
    AlertKind.PAYMENT_FEED_SILENT: "The payment feed is silent",
    AlertKind.PROFILE_CHANGED_WHILE_PENDING: "A customer's segment changed while its suspension awaits approval",
    AlertKind.ENFORCEMENT_BLOCKED: "A suspension was blocked (nothing was sent to Partner Center)",
}
NEXT_STEPS: dict[AlertKind, tuple[str, ...]] = {
    AlertKind.EVALUATION_FAILED: ("Read GET /api/customers/{id}/status (evaluation_error) and the audit history",
                                  "Correct the customer's data (lift the bad override, send a correcting event)"),
    AlertKind.SWEEP_ERRORS: ("Read GET /api/collections/runs/{run_id} (errors): the other customers were evaluated",),
    AlertKind.CALENDAR_ENDING: ("Enter the State Council's holiday schedule in the calendar override file and list "
                                "the year under confirmed_years (README: Holiday calendar)",
                                "Or upgrade chinese-calendar once it ships the year"),
    AlertKind.PAYMENT_FEED_SILENT: ("Check the billing system's producer and the payment-events queue",
                                    "Suspensions stay blocked while the feed is silent"),
    AlertKind.PROFILE_CHANGED_WHILE_PENDING: ("The pending approval still stands: approve or reject it in "
                                              "GET /api/approvals",
                                              "Check with the sending system why the segment changed"),
    AlertKind.ENFORCEMENT_BLOCKED: ("Clear the cause named above (payment feed, dead-letter store); the next sweep "
                                    "evaluates the customer again on fresh data",),
}


def send_alert(ctx: Ports, kind: AlertKind, key: str, detail: str, customer_id: str = PORTFOLIO,
               correlation_id: str | None = None) -> CollectionsNotice:
    """Queue one team alert; the same ``key`` is delivered at most once."""
    notice = CollectionsNotice(customer_id=customer_id, key=f"alert:{kind.value}:{key}", stage_id=kind.value,
                               template=ALERT_TEMPLATE, audience="team", reason=detail[:2000])
    ctx.producer.send(Queue.NOTIFICATIONS, notice.envelope(correlation_id))
    return notice


def alert_context(notice: CollectionsNotice, customer_name: str | None) -> dict[str, object]:
    """What the team_alert template shows for a queued alert."""
    kind = AlertKind(notice.stage_id) if notice.stage_id in {k.value for k in AlertKind} else None
    customer = None if notice.customer_id == PORTFOLIO else {"name": customer_name or notice.customer_id,
                                                             "tenant_id": notice.customer_id}
    return {"title": TITLES[kind] if kind else "csp-guard alert", "detail": notice.reason, "customer": customer,
            "next_steps": list(NEXT_STEPS[kind]) if kind else []}
