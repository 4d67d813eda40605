"""What operators do by hand (HTTP functions and the cspguard CLI share these): look, hold, approve, act.

Every change is audited with the operator's identity and reason, and is followed by a fresh evaluation
of the customer so its effect (a reactivation after an exemption, say) is immediate.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.clock import utcnow
from shared.collections import (
    Approval,
    CustomerOverrides,
    Decision,
    Exemption,
    ManualHold,
    Policy,
    PromiseToPay,
    diff_decisions,
    preview,
)
from shared.collections.keys import ActionKey
from shared.collections.ledger import CustomerLedger
from shared.collections.policy import SuspendScope
from shared.collections.preview import DecisionChange
from shared.messaging import Queue
from shared.services.collections import Dispatched, decide, dispatch
from shared.services.errors import ConflictError, EvaluationError, ForbiddenError, InvalidRequest, NotFoundError
from shared.services.messages import EnforcementRequest
from shared.services.policies import calendar, policy_set
from shared.services.state import ApprovalRequest, CollectionsState, Stores
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.context import AppContext

log = logging.getLogger("cspguard.operators")


class ManualAction(BaseModel):
    """Body of a manual suspend or reactivate. The target is never implied: either ``subscription_ids``
    (a non-empty list, each checked against Partner Center) or ``"all_subscriptions": true``. Unknown fields
    are refused, so ``"subscription_id"`` (a typo) cannot silently widen the action to everything."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str = Field(min_length=3, max_length=500)
    subscription_ids: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] | None = None
    all_subscriptions: bool = False
    request_id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _explicit_target(self) -> ManualAction:
        if self.subscription_ids is not None and not self.subscription_ids:
            raise ValueError("subscription_ids is empty: name at least one subscription, or send "
                             '"all_subscriptions": true instead')
        if (self.subscription_ids is None) == (not self.all_subscriptions):
            raise ValueError('say what to act on: either "subscription_ids": [...] or "all_subscriptions": true '
                             "(not both)")
        return self


async def known_subscriptions(ctx: AppContext, customer_id: str, ids: tuple[str, ...]) -> tuple[str, ...]:
    """``ids`` as Partner Center spells them; InvalidRequest naming every id the customer does not have.
    (Partner Center errors propagate: NotFound when it does not know the customer.)"""
    subs = await ctx.partner_center().list_subscriptions(customer_id)
    by_lower = {s.id.lower(): s.id for s in subs}
    unknown = [i for i in ids if i.lower() not in by_lower]
    if unknown:
        raise InvalidRequest(f"customer {customer_id} has no subscription(s) {', '.join(unknown)} in Partner Center "
                             f"(it has {len(subs)}: {', '.join(sorted(by_lower.values())[:20]) or 'none'})")
    return tuple(dict.fromkeys(by_lower[i.lower()] for i in ids))


def _now(now: datetime | None) -> datetime:
    return now or utcnow()


def _require_ledger(stores: Stores, customer_id: str) -> None:
    if stores.ledger(customer_id) is None:
        raise NotFoundError(f"customer {customer_id} has no ledger (no payment events received)")


def reevaluate(ctx: AppContext, customer_id: str, actor: str, now: datetime | None = None) -> Dispatched | None:
    """Apply an operator's change at once; a customer whose data cannot be evaluated keeps the change (its
    status says why no decision is made)."""
    now = _now(now)
    try:
        decision = decide(ctx.stores, ctx.settings, customer_id, now)
    except EvaluationError as exc:
        log.error("%s (after a change by %s)", exc, actor)
        return None
    if decision is None:
        return None
    return dispatch(ctx, ctx.stores, decision, now, allow_suspend=False, actor=actor)


def customer_status(ctx: AppContext, customer_id: str, now: datetime | None = None,
                    history: int = 50) -> dict[str, Any]:
    """Everything an operator needs about one customer, including what a sweep would do right now."""
    now = _now(now)
    stores = ctx.stores
    ledger = stores.ledger(customer_id)
    if ledger is None:
        raise NotFoundError(f"customer {customer_id} has no ledger (no payment events received)")
    try:
        decision, evaluation_error = decide(stores, ctx.settings, customer_id, now, persist=False), None
    except EvaluationError as exc:  # the facts are still shown, with why no decision could be made
        decision, evaluation_error = None, str(exc)
    state = stores.collections_state(customer_id)
    return {
        "customer_id": customer_id,
        "profile": ledger.profile.model_dump(mode="json"),
        "invoices": [i.model_dump(mode="json") for i in ledger.summary.invoices],
        "unallocated": {c: str(a) for c, a in ledger.summary.unallocated.items()},
        "overrides": (stores.overrides_for(customer_id) or CustomerOverrides()).model_dump(mode="json"),
        "case": state.case.model_dump(mode="json") if state.case else None,
        "notices_sent": [n.model_dump(mode="json") for n in state.notices],
        "suspended_by_csp_guard": [r.model_dump(mode="json") for r in stores.suspended_by_us(customer_id)],
        "decision": decision.model_dump(mode="json") if decision else None,
        "evaluation_error": evaluation_error,
        "history": [e.model_dump(mode="json") for e in ctx.audit.history(customer_id, history)],
    }


OverrideKind = Literal["exemption", "promise", "hold"]


def set_override(ctx: AppContext, customer_id: str, kind: OverrideKind, data: dict[str, Any], actor: str,
                 now: datetime | None = None) -> CustomerOverrides:
    """Add an exemption, promise to pay or manual hold (validated; raises pydantic.ValidationError)."""
    now = _now(now)
    stores = ctx.stores
    _require_ledger(stores, customer_id)
    item: Exemption | PromiseToPay | ManualHold
    if kind == "exemption":
        tz = policy_set(ctx.settings).for_version(None).tz  # exemptions start on the partner's calendar day
        item = Exemption.model_validate({"starts_on": now.astimezone(tz).date().isoformat(), **data})
        field = "exemptions"
    elif kind == "promise":
        _promised_amount(data.get("amount"))  # money as strictly as a payment event: "1e3", 100, "１２３" refused
        item = PromiseToPay.model_validate({**data, "promise_id": uuid.uuid4().hex[:12], "made_at": now.isoformat(),
                                            "recorded_by": actor})  # who acted and when: never the body
        field = "promises"
    else:
        item = ManualHold.model_validate({**data, "set_by": actor})  # who acted: never the body
        field = "holds"

    def add(cur: CustomerOverrides | None) -> CustomerOverrides:
        cur = cur or CustomerOverrides()
        return cur.model_copy(update={field: (*getattr(cur, field), item)})

    result = stores.overrides.update(customer_id, "overrides", add)
    assert result is not None
    ctx.audit.record(AuditEntry(customer_id=customer_id, action=f"{kind}.set", actor=actor,
                                reason=str(data.get("reason") or data.get("note") or kind), at=now,
                                evidence=item.model_dump(mode="json")))
    reevaluate(ctx, customer_id, actor, now)
    return result


def _promised_amount(value: Any) -> None:
    """A promise's ``{"amount", "currency"}`` by the ingress rules of money (ValidationError otherwise)."""
    from pydantic import TypeAdapter

    from shared.domain.events import PositiveAmount

    amount = value.get("amount") if isinstance(value, dict) else value
    TypeAdapter(PositiveAmount).validate_python(amount)


def lift_override(ctx: AppContext, customer_id: str, kind: OverrideKind, actor: str, reason: str,
                  now: datetime | None = None) -> CustomerOverrides:
    """Remove every override of ``kind`` (exemptions end today; the history stays in the audit log)."""
    now = _now(now)
    stores = ctx.stores
    _require_ledger(stores, customer_id)
    field = {"exemption": "exemptions", "promise": "promises", "hold": "holds"}[kind]

    def drop(cur: CustomerOverrides | None) -> CustomerOverrides:
        return (cur or CustomerOverrides()).model_copy(update={field: ()})

    result = stores.overrides.update(customer_id, "overrides", drop)
    assert result is not None
    ctx.audit.record(AuditEntry(customer_id=customer_id, action=f"{kind}.lifted", actor=actor, reason=reason,
                                at=now))
    reevaluate(ctx, customer_id, actor, now)
    return result


def manual_enforcement(ctx: AppContext, customer_id: str, action: Literal["suspend", "reactivate"],
                       body: ManualAction, actor: str, now: datetime | None = None) -> EnforcementRequest:
    """Queue a manual suspend/reactivate (``body.subscription_ids`` already checked by ``known_subscriptions``;
    ``all_subscriptions`` means every active one, or for a reactivation all that csp-guard suspended for
    non-payment or by hand). Manual suspensions are never lifted by a payment."""
    now = _now(now)
    stores = ctx.stores
    ids = body.subscription_ids or ()
    if action == "reactivate" and not ids and not stores.suspended_by_us(customer_id):
        raise ConflictError(f"csp-guard has suspended nothing for customer {customer_id}")
    request = EnforcementRequest(
        action=action, customer_id=customer_id, reason="manual",
        key=str(ActionKey.manual(customer_id, body.request_id)), detail=body.reason, actor=actor,
        subscription_ids=ids, requested_at=now,
        scope=SuspendScope(kind="all") if action == "suspend" and not ids else None)  # all_subscriptions: said so
    if action == "reactivate" and not ids:  # fraud containment is lifted through its case only
        ids = tuple(r.subscription_id for r in stores.suspended_by_us(customer_id) if r.reason != "fraud")
        if not ids:
            raise ConflictError(f"only fraud containment is in place for {customer_id}: resolve the fraud case")
        request = request.model_copy(update={"subscription_ids": ids})
    ctx.producer.send(Queue.ENFORCEMENT, request.envelope())
    return request


def migrate_case(ctx: AppContext, customer_id: str, actor: str, reason: str,
                 now: datetime | None = None) -> CollectionsState:
    """Move the customer's open case to the current policy version (cases otherwise keep the version they
    started under). Its notices and approvals carry over; the customer is re-evaluated at once."""
    now = _now(now)
    stores = ctx.stores
    current = policy_set(ctx.settings).for_version(None).version
    state = stores.collections_state(customer_id)
    if state.case is None:
        raise NotFoundError(f"customer {customer_id} has no open collections case")
    old = state.case.policy_version
    if old == current:
        raise ConflictError(f"the case already runs under the current policy {current}")

    def move(cur: CollectionsState | None) -> CollectionsState | None:
        if cur is None or cur.case is None:
            return None
        return cur.model_copy(update={"case": cur.case.model_copy(update={"policy_version": current})})

    migrated = stores.cases.update(customer_id, "collections", move)
    ctx.audit.record(AuditEntry(customer_id=customer_id, action="case.migrated", actor=actor, reason=reason, at=now,
                                evidence={"from": old, "to": current}))
    reevaluate(ctx, customer_id, actor, now)
    assert migrated is not None
    return migrated


def list_approvals(ctx: AppContext, status: Literal["pending", "decided"] = "pending") -> list[ApprovalRequest]:
    return sorted(ctx.stores.approvals.partition(status), key=lambda a: a.requested_at)


def decide_approval(ctx: AppContext, key: str, approve: bool, actor: str, note: str = "",
                    now: datetime | None = None) -> ApprovalRequest:
    """Approve or reject a pending action. Approval records the approver on the case and re-evaluates, so
    the action runs through the normal checks exactly once (its key is unchanged)."""
    now = _now(now)
    stores = ctx.stores
    if approve:
        _four_eyes(stores.approvals.get("pending", key), actor)
    run_id = _run_of(key)
    if run_id is not None:
        from shared.services.sweep import decide_run

        try:
            decide_run(ctx, run_id, actor, approve, note, now)
        except KeyError as exc:
            raise NotFoundError(str(exc.args[0])) from None
        except ValueError as exc:  # already approved or rejected
            raise ConflictError(str(exc)) from None
        found = stores.approvals.get("decided", key)
        if found is None:
            raise NotFoundError(f"no approval {key}")
        return found
    request = stores.approvals.get("pending", key)
    if request is None:
        if stores.approvals.get("decided", key) is not None:
            raise ConflictError(f"approval {key} was already decided")
        raise NotFoundError(f"no pending approval {key}")
    decided = request.model_copy(update={"status": "approved" if approve else "rejected", "decided_by": actor,
                                         "decided_at": now, "note": note})
    stores.approvals.put("decided", key, decided)  # ConcurrencyConflict if decided concurrently
    stores.approvals.delete("pending", key)
    ctx.audit.record(AuditEntry(customer_id=request.customer_id, action=f"approval.{decided.status}", actor=actor,
                                reason=note or request.why, at=now, evidence={"key": key}))
    if approve and request.action is not None and request.action.stage_id:
        approval = Approval(stage_id=request.action.stage_id, approver=actor, approved_at=now)

        def add(state: CollectionsState | None) -> CollectionsState | None:
            if state is None or state.case is None:
                return None
            case = state.case.model_copy(update={"approvals": (*state.case.approvals, approval)})
            return state.model_copy(update={"case": case})

        stores.cases.update(request.customer_id, "collections", add)
        decision = decide(stores, ctx.settings, request.customer_id, now)
        if decision is not None:
            dispatch(ctx, stores, decision, now, allow_suspend=True, actor=actor)
    return decided


def _run_of(key: str) -> str | None:
    """The sweep run an approval key names (a halted run waits for a person), or None."""
    try:
        parsed = ActionKey.parse(key)
    except ValueError:
        return None
    return parsed.run_id if parsed.kind == "run" else None


def _four_eyes(request: ApprovalRequest | None, actor: str) -> None:
    """Nobody approves their own request (rejecting it is fine)."""
    if request is not None and request.requested_by and request.requested_by == actor:
        raise ForbiddenError(f"{actor} asked for {request.key}: a second person must approve it (four eyes)")


def portfolio_preview(ctx: AppContext, now: datetime | None = None, policy: Policy | None = None,
                      errors: dict[str, str] | None = None,
                      ledgers: list[CustomerLedger] | None = None) -> list[Decision]:
    """What a sweep would decide now (or at ``now``) for every customer; nothing is stored or sent. With
    ``errors``, customers that cannot be evaluated are reported there instead of failing the whole preview.
    ``ledgers``: already loaded (the portfolio view reads them once for both the preview and the ageing)."""
    from shared.services.forecast import portfolio_inputs

    now = _now(now)
    policy = policy or policy_set(ctx.settings).for_version(None)
    i = portfolio_inputs(ctx.stores, ledgers)
    return preview(i.ledgers, policy, calendar(ctx.settings, policy), now, overrides=i.overrides, notices=i.notices,
                   cases=i.cases, unbilled=i.unbilled, errors=errors)


def policy_diff(ctx: AppContext, old: Policy, new: Policy, now: datetime | None = None,
                errors: dict[str, str] | None = None) -> list[DecisionChange]:
    """Decision changes from ``old`` to ``new``; with ``errors``, customers that cannot be evaluated under
    either are reported there and left out of the diff."""
    now = _now(now)
    failed: dict[str, str] = {}
    before, after = portfolio_preview(ctx, now, old, errors=failed), portfolio_preview(ctx, now, new, errors=failed)
    if failed and errors is None:
        raise EvaluationError(next(iter(failed)), ValueError(next(iter(failed.values()))))
    if errors is not None:
        errors.update(failed)
    return diff_decisions([d for d in before if d.customer_id not in failed],
                          [d for d in after if d.customer_id not in failed])


def decision_row(d: Decision) -> dict[str, Any]:
    """One line of a preview table."""
    return {"customer_id": d.customer_id, "stage": d.stage, "actions": [f"{a.kind}:{a.stage_id}" for a in d.actions],
            "pending_approval": [a.stage_id for a in d.pending_approval],
            "blocked_by": [r.code for r in d.blocked_by], "overdue": {c: str(a) for c, a in d.snapshot.overdue.items()},
            "days_past_due": d.snapshot.days_past_due,
            "next_review_at": d.next_review_at.isoformat() if d.next_review_at else None,
            "explanation": "; ".join(r.text for r in (*d.reasons, *d.blocked_by))}


def parse_day(value: str | None) -> datetime | None:
    """``YYYY-MM-DD`` or an ISO timestamp -> aware datetime (a date means 10:00 UTC that day); ValueError
    for anything else, or a day outside the accepted window (shared.domain.dates)."""
    from shared.domain.dates import check_day

    if not value:
        return None
    if len(value) == 10:
        parsed = datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC).replace(hour=10)
    else:
        parsed = datetime.fromisoformat(value)
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return check_day(parsed)
