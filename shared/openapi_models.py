"""Request bodies of the person-facing HTTP routes, as the OpenAPI document describes them.

The routes validate what they receive (each adapter in functions/ and the use cases behind it); these models
give the document its schemas. Who acted is never a body field: it is the signed-in principal.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

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


class NoteBody(_Body):
    text: str = Short


class ServiceRequestBody(_Body):
    """No status: raise the case's service request to 21Vianet. With a status: record 21Vianet's answer and
    its ticket number."""

    note: str = ""
    status: Literal["acknowledged", "closed"] | None = None
    ticket_number: str | None = Field(default=None, max_length=100, description="21Vianet ticket number")


class ContainBody(_Body):
    note: str = ""


class ReplayBody(_Body):
    body: str | None = Field(default=None, description="corrected message text; omit to replay as stored")


class ErrorBody(BaseModel):
    error: str
