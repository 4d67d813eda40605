"""What operators do by hand (HTTP functions and the cspguard CLI share these): look, hold, act.

Every change is audited with the operator's identity and reason, and is followed by a fresh evaluation
of the customer so its effect (a reactivation after an exemption, say) is immediate. Approvals live in
``shared.services.approvals`` and dry runs in ``shared.services.previews``; both are re-exported here, where
the HTTP functions and the CLI import them from.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.clock import utcnow
from shared.collections import CustomerOverrides, Exemption, ManualHold, PromiseToPay
from shared.collections.keys import ActionKey
from shared.collections.policy import SuspendScope
from shared.messaging import Queue
from shared.services.approvals import decide_approval, list_approvals
from shared.services.collections import Dispatched, decide, dispatch
from shared.services.errors import ConflictError, EvaluationError, InvalidRequest, NotFoundError, UpstreamError
from shared.services.messages import EnforcementRequest
from shared.services.policies import policy_set
from shared.services.previews import decision_row, policy_diff, portfolio_preview
from shared.services.state import CollectionsState, Stores
from shared.storage.audit import AuditEntry

if TYPE_CHECKING:
    from shared.ports import Ports

log = logging.getLogger("cspguard.operators")
__all__ = ["ManualAction", "NotFoundError", "customer_status", "decide_approval", "decision_row", "known_subscriptions",
           "lift_override", "list_approvals", "manual_action", "manual_enforcement", "migrate_case", "policy_diff",
           "portfolio_preview", "reevaluate", "set_override"]


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


async def known_subscriptions(ctx: Ports, customer_id: str, ids: tuple[str, ...]) -> tuple[str, ...]:
    """``ids`` as Partner Center spells them; InvalidRequest naming every id the customer does not have,
    NotFoundError when Partner Center does not know the customer, UpstreamError when it fails (nothing queued)."""
    from shared.partner_center import NotFound, PartnerCenterError

    try:
        subs = await ctx.partner_center().list_subscriptions(customer_id)
    except NotFound as exc:  # Partner Center's answer, said in this request's terms
        raise NotFoundError(f"Partner Center does not know customer {customer_id}: {exc.description}") from exc
    except PartnerCenterError as exc:
        raise UpstreamError(f"could not check the subscriptions with Partner Center ({exc.code}): "
                            f"{exc.description}; nothing was queued, try again") from exc
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


def reevaluate(ctx: Ports, customer_id: str, actor: str, now: datetime | None = None) -> Dispatched | None:
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
    return dispatch(ctx, decision, now, allow_suspend=False, actor=actor)


def customer_status(ctx: Ports, customer_id: str, now: datetime | None = None,
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


def set_override(ctx: Ports, customer_id: str, kind: OverrideKind, data: dict[str, Any], actor: str,
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


def lift_override(ctx: Ports, customer_id: str, kind: OverrideKind, actor: str, reason: str,
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


def manual_enforcement(ctx: Ports, customer_id: str, action: Literal["suspend", "reactivate"],
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


async def manual_action(ctx: Ports, customer_id: str, action: Literal["suspend", "reactivate"],
                        data: dict[str, Any], actor: str) -> EnforcementRequest:
    """``POST /api/customers/{id}/actions/{action}``: the body validated (``ManualAction``; ValidationError), named
    subscription ids checked against Partner Center first, then the request queued (``manual_enforcement``)."""
    body = ManualAction.model_validate(data)
    if body.subscription_ids:
        body = body.model_copy(update={"subscription_ids": await known_subscriptions(ctx, customer_id,
                                                                                     body.subscription_ids)})
    return manual_enforcement(ctx, customer_id, action, body, actor)


def migrate_case(ctx: Ports, customer_id: str, actor: str, reason: str,
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

