"""Why an action was taken, as the audit keeps it: reasons (code and text) and the decision's fingerprint.

Here, below both the collections engine (which produces them) and storage (whose audit entries carry them), so
the audit adapter never imports an engine.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

_Frozen = ConfigDict(frozen=True, extra="forbid")


class Reason(BaseModel):
    """A reason code with a human explanation (returned with the decision, not just logged)."""

    model_config = _Frozen
    code: str
    text: str


class DecisionTrace(BaseModel):
    """Why an action was taken, kept with its audit entry: the decision's reasons (and what blocked other
    actions) and the fingerprint of every input it was computed from."""

    model_config = _Frozen
    fingerprint: str
    policy_version: str
    reasons: tuple[Reason, ...] = ()
    blocked_by: tuple[Reason, ...] = ()


__all__ = ["DecisionTrace", "Reason"]
