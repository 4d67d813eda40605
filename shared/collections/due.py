"""Whether an action is still due, and whether a suspension should be lifted: decided here, once. Pure.

The sweep publishes what a decision asks for; the enforcement worker and the notification worker ask again
on fresh data right before acting. All three ask these functions, so "still due" means one thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.collections.decision import CollectionsCase, Decision
from shared.collections.keys import ActionKey
from shared.collections.policy import Policy


@dataclass(frozen=True, slots=True)
class Due:
    """Yes or no, and why (the why is shown to operators and kept in the audit)."""

    due: bool
    reason: str

    def __bool__(self) -> bool:
        return self.due


def still_due(decision: Decision | None, key: ActionKey, policy: Policy | None = None) -> Due:
    """Is the action ``key`` names still due under ``decision`` (a fresh evaluation of its customer)?

    - a suspension: only while the decision itself asks for that very suspension (same case and stage);
    - a stage's notice: while the customer is at that stage or a more severe one;
    - a reactivation: unless a suspension stage applies again. Deliberately looser than ``reactivation_due``
      (which decides when to *ask* for a lift): a queued lift is only withdrawn when suspending would be due
      again, never because a new case opened meanwhile, so a customer who paid is not left suspended;
    - anything else (runs, manual actions): the engine has no say, so yes.

    ``policy`` (the decision's version) orders the stages; only a notice needs it.
    """
    if key.kind == "suspend":
        wanted = str(key.action)  # the stored form is the identity (a case id names its customer only by convention)
        if decision is not None and any(a.kind == "suspend" and a.key == wanted for a in decision.actions):
            return Due(True, f"stage {key.stage_id} still applies")
        why = "; ".join(r.text for r in (decision.blocked_by if decision else ())) or "no suspension stage applies"
        return Due(False, why)
    if key.kind in ("notify_customer", "notify_team"):
        if decision is None or decision.stage is None:
            return Due(False, "no collections stage applies any more")
        if policy is None:
            raise ValueError("whether a notice is still due depends on the policy's stage order")
        order = [s.id for s in policy.stages]
        if key.stage_id in order and order.index(key.stage_id) + 1 > decision.severity:
            return Due(False, f"customer is now at stage {decision.stage}, below {key.stage_id}")
        return Due(True, f"customer is at stage {decision.stage}")
    if key.kind == "reactivate":
        if decision is not None and decision.suspends:
            return Due(False, "a suspension stage still applies")
        return Due(True, "no suspension stage applies")
    return Due(True, f"{key.kind} actions are not decided by the collections policy")


def lift_reason(case: CollectionsCase | None, exempt: bool, harmful_now: bool) -> str | None:
    """Why the engine lifts its case's suspension now (the customer is exempt, or no harmful stage applies
    any more), or None."""
    if case is None or case.suspended_by_stage is None or not (exempt or not harmful_now):
        return None
    return "customer is exempt" if exempt else "the non-payment reason for the suspension has cleared"


def reactivation_due(decision: Decision, suspended_for_nonpayment: bool) -> Due:
    """Should csp-guard ask to lift its non-payment suspensions after ``decision``?

    The decision's own reactivation says so for the case that suspended; beyond it, a safety net: csp-guard
    still holds non-payment suspensions, nothing harmful is due or awaits approval, and there is no open case
    or one at no stage that never recorded a suspension (a case that closed, or a mark that did not land).
    """
    if decision.suspends:
        return Due(False, "a suspension stage still applies")
    lift = next((a for a in decision.actions if a.kind == "reactivate"), None)
    if lift is not None:
        return Due(True, lift.reason)
    if not suspended_for_nonpayment:
        return Due(False, "csp-guard holds no non-payment suspension of this customer")
    if decision.pending_approval:
        return Due(False, "a suspension awaits approval")
    case = decision.case if decision.case is not None and decision.case.is_open else None
    if case is None or (case.suspended_by_stage is None and decision.severity == 0):
        return Due(True, "no harmful collections stage applies any more")
    return Due(False, f"collections stage {decision.stage} of case {case.case_id} still applies")
