"""Evaluate one customer against the collections policy and turn the decision into queued work.

Evaluation itself is the pure engine (shared.collections.evaluate); this module loads its inputs,
persists case changes with ETag checks (a payment and a sweep racing on one customer serialise here),
and publishes the decision's actions. Suspensions are only published by the sweep (after its
blast-radius check) or an approval; every other caller gets them back as "planned".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from shared.collections import Decision, PolicyError, evaluate
from shared.collections.due import reactivation_due
from shared.collections.keys import ActionKey
from shared.messaging import Queue
from shared.services.errors import EvaluationError
from shared.services.messages import CollectionsNotice, EnforcementRequest
from shared.services.policies import calendar, policy_set
from shared.services.state import ApprovalRequest, CustomerInputs, Stores
from shared.storage.documents import ConcurrencyConflict

if TYPE_CHECKING:
    from shared.ports import Ports
    from shared.settings import Settings

log = logging.getLogger("cspguard.collections")


@dataclass
class Dispatched:
    """What publishing a decision did."""

    notices: list[str] = field(default_factory=list)
    enforcement: list[EnforcementRequest] = field(default_factory=list)
    planned_suspensions: list[EnforcementRequest] = field(default_factory=list)
    approvals: list[str] = field(default_factory=list)
    held_for_approval: list[str] = field(default_factory=list)  # suspensions whose approval is pending/rejected


def _awaits_approval(stores: Stores, key: str) -> bool:
    """True when a person was asked to approve this action and has not approved it (pending or rejected).
    The engine asks only while the customer's profile requires approval; once asked, a later profile change
    (segment strategic -> standard, sent by any feed) must not release the action without that person."""
    if stores.approvals.get("pending", key) is not None:
        return True
    decided = stores.approvals.get("decided", key)
    return decided is not None and decided.status != "approved"


def decide(stores: Stores, settings: Settings, customer_id: str, now: datetime,
           *, persist: bool = True, inputs: CustomerInputs | None = None) -> Decision | None:
    """Evaluate one customer from stored state (or ``inputs`` a shard prefetched); persist a case opening or
    closing when ``persist``. After a concurrent change the inputs are read again."""
    for _ in range(5):
        inputs = inputs or stores.inputs(customer_id)
        ledger, state, etag = inputs.ledger, inputs.state, inputs.state_etag
        if ledger is None:
            return None
        policies = policy_set(settings)
        case = state.case if state.case is not None and state.case.is_open else None
        policy = policies.for_version(case.policy_version if case else None)
        try:
            decision = evaluate(ledger, inputs.overrides, policy, calendar(settings, policy), now,
                                state.notices, case, unbilled=inputs.unbilled)
        except PolicyError:
            raise
        except (ArithmeticError, ValueError, TypeError, KeyError) as exc:  # the pure engine on bad stored data
            raise EvaluationError(customer_id, exc) from exc
        if not persist or decision.case_change is None:
            return decision
        if decision.case_change == "opened":
            new_state = state.model_copy(update={"case": decision.case})
        else:
            closed = decision.case.case_id if decision.case else ""
            new_state = state.model_copy(update={"case": None, "closed_cases": [*state.closed_cases, closed][-50:]})
        try:
            stores.cases.put(customer_id, "collections", new_state, etag)
            return decision
        except ConcurrencyConflict:
            inputs = None
            continue
    raise ConcurrencyConflict(f"collections state of {customer_id} kept changing; will retry")


def reactivate_if_paid(ctx: Ports, customer_id: str, now: datetime, *, actor: str,
                       correlation_id: str | None = None) -> EnforcementRequest | None:
    """When the customer cannot be evaluated (EvaluationError) but owes nothing any more, still lift what
    csp-guard suspended for non-payment: reactivating our own suspension of a customer with no open
    undisputed balance is safe whatever the rest of its data says. Same key as the engine's reactivation."""
    stores = ctx.stores
    ledger = stores.ledger(customer_id)
    records = [r for r in stores.suspended_by_us(customer_id) if r.reason == "nonpayment"]
    if ledger is None or ledger.summary.rows or not records:
        return None
    request = EnforcementRequest(
        action="reactivate", customer_id=customer_id, reason="nonpayment",
        key=str(ActionKey.reactivation(customer_id, generation(stores, customer_id))),
        detail="nothing is owed any more (the rest of the customer's data cannot be evaluated)", actor=actor,
        requested_at=now)
    ctx.producer.send(Queue.ENFORCEMENT, request.envelope(correlation_id))
    return request


def generation(stores: Stores, customer_id: str) -> int:
    """How many times this customer's non-payment suspensions were lifted: part of enforcement keys,
    so a second suspension in the same case is a new action rather than a duplicate of the first."""
    return stores.collections_state(customer_id).lifts


def _default_template(kind: str) -> str:
    """A stage's ``notify_team`` without a template says that the customer entered the stage (with its reason)."""
    return "team_stage_entered" if kind == "notify_team" else ""


def dispatch(ctx: Ports, decision: Decision, now: datetime, *,
             allow_suspend: bool, actor: str, run_id: str | None = None,
             correlation_id: str | None = None, inputs: CustomerInputs | None = None) -> Dispatched:
    """Publish a decision's actions: notices, reactivations, approvals; suspensions if allowed."""
    stores = ctx.stores
    out = Dispatched()
    cid = decision.customer_id
    case_id = decision.case.case_id if decision.case else None
    gen = inputs.state.lifts if inputs is not None else generation(stores, cid)
    suspensions = inputs.suspensions if inputs is not None else stores.suspended_by_us(cid)
    harmful_stages = {a.stage_id for a in decision.actions if a.kind == "suspend"}
    trace = decision.trace  # each notice and request carries the decision's reasons to its audit entry
    held: list[CollectionsNotice] = []
    for action in decision.actions:
        if action.kind in ("notify_customer", "notify_team"):
            notice = CollectionsNotice(customer_id=cid, key=action.key, stage_id=action.stage_id or "",
                                       template=action.template or _default_template(action.kind), case_id=case_id,
                                       audience="customer" if action.kind == "notify_customer" else "team",
                                       reason=action.reason, decision=trace)
            if action.stage_id in harmful_stages:
                held.append(notice)  # "we suspended..." goes out only once the suspension is verified
                continue
            ctx.producer.send(Queue.NOTIFICATIONS, notice.envelope(correlation_id))
            out.notices.append(action.key)
    for action in decision.actions:
        if action.kind in ("suspend", "reactivate"):
            # one reactivation per lift, whichever path (engine action or safety net) asks for it first
            key = str(ActionKey.reactivation(cid, gen) if action.kind == "reactivate" else action.action_key.at(gen))
            request = EnforcementRequest(
                action="suspend" if action.kind == "suspend" else "reactivate", customer_id=cid,
                reason="nonpayment", key=key,
                detail=f"{action.reason} (policy {decision.policy_version})", actor=actor, case_id=case_id,
                stage_id=action.stage_id, scope=action.scope, run_id=run_id, requested_at=now,
                then_notify=tuple(n for n in held if n.stage_id == action.stage_id), decision=trace)
            if action.kind == "suspend" and _awaits_approval(stores, key):
                log.warning("suspension %s of %s held: its approval is pending or was rejected", key, cid)
                out.held_for_approval.append(key)
                continue
            if action.kind == "suspend" and not allow_suspend:
                out.planned_suspensions.append(request)
                continue
            ctx.producer.send(Queue.ENFORCEMENT, request.envelope(correlation_id))
            out.enforcement.append(request)
    # a safety net beyond the engine's own action (sent above): our non-payment suspensions, no harmful stage
    engine_lifts = any(a.kind == "reactivate" for a in decision.actions)
    if not engine_lifts and reactivation_due(decision, any(r.reason == "nonpayment" for r in suspensions)):
        request = EnforcementRequest(
            action="reactivate", customer_id=cid, reason="nonpayment", key=str(ActionKey.reactivation(cid, gen)),
            detail="no harmful collections stage applies any more", actor=actor, requested_at=now, decision=trace)
        ctx.producer.send(Queue.ENFORCEMENT, request.envelope(correlation_id))
        out.enforcement.append(request)
    for action in decision.pending_approval:
        why = "; ".join(r.text for r in decision.blocked_by if r.code == "approval_required") or "approval required"
        request_ = ApprovalRequest(key=str(action.action_key.at(gen)), customer_id=cid, action=action, requested_at=now,
                                   why=why, run_id=run_id, requested_by=actor)
        known = stores.approvals.get("pending", request_.key) or stores.approvals.get("decided", request_.key)
        if known is None:
            stores.approvals.upsert("pending", request_.key, request_)
            out.approvals.append(request_.key)
    return out
