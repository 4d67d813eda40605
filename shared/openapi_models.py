"""Request bodies of the person-facing HTTP routes, as the OpenAPI document describes them.

The routes validate what they receive (each adapter in functions/ and the use cases behind it); these models
give the document its schemas. Who acted is never a body field: it is the signed-in principal.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.money import Money

Short = Field(min_length=1, max_length=500)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExemptionBody(_Body):
    reason: str = Short
    approver: str = Short
    expires_on: date
    starts_on: date | None = None


class PromiseBody(_Body):
    amount: Money
    promised_date: date
    grace_days: int = Field(default=2, ge=0, le=30)


class HoldBody(_Body):
    reason: str = Short
    until: date


class ReasonBody(_Body):
    reason: str = Short


class DisputeBody(_Body):
    invoice_id: str = Short
    amount: str | None = Field(default=None, description="decimal string; omit for the whole invoice",
                               pattern=r"^\d+(\.\d+)?$")
    reason: str = Short
    event_id: str | None = Field(default=None, max_length=200, description="makes retries safe")


class DecisionBody(_Body):
    key: str = Short
    decision: Literal["approve", "reject"]
    note: str = ""


class ResolveBody(_Body):
    label: Literal["legitimate", "fraud"]
    note: str = ""
    suppress_days: int | None = Field(default=None, ge=0, le=365,
                                      description="legitimate: suppress the case's signal kinds this many days")


class NoteBody(_Body):
    text: str = Short


class ServiceRequestBody(_Body):
    """Raise the case's service request to 21Vianet (once per case)."""

    note: str = ""


class TicketBody(_Body):
    """The 21Vianet ticket an operator filed in the Partner Center portal."""

    number: str = Field(min_length=1, max_length=64, description="21Vianet ticket number")
    note: str = ""
    case_id: str | None = Field(default=None, description="an earlier case of the customer")


class TicketStatusBody(_Body):
    """The ticket's status as the Partner Center portal shows it."""

    status: Literal["open", "attention_needed", "closed"]
    note: str = ""
    case_id: str | None = None


class BaselineBody(_Body):
    """What fraud detection should expect of a customer (queued as a customer.updated event)."""

    expected_monthly_spend: dict[str, str] | None = Field(default=None, description='{"amount", "currency"}')
    prepayment: dict[str, str] | None = Field(default=None, description='{"amount", "currency"}')
    planned_changes: list[dict[str, Any]] | None = Field(
        default=None, description='[{"starts_on", "ends_on", "expected_factor", "expected_daily_spend", "regions", '
                                  '"note"}]')
    onboarded_on: str | None = Field(default=None, description="YYYY-MM-DD")


class ContainBody(_Body):
    note: str = ""


class ReplayBody(_Body):
    body: str | None = Field(default=None, description="corrected message text; omit to replay as stored")


class ErrorBody(BaseModel):
    error: str
