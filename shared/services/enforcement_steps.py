"""One Partner Center change per target, with the truth recorded around it.

A target is a subscription (PATCHed: licences, legacy Azure, an Azure plan itself) or an Azure subscription
under an Azure plan (cancelled/reactivated). Each step writes csp-guard's SuspensionRecord *before* the change
(a crash after Partner Center acted can never leave a suspension csp-guard does not know it made), and after
the call, or after any refusal, reads the target back: the record is kept or dropped only on what Partner
Center then shows, never on an assumption. Transient errors propagate (the queue retries; the record stays
and the retry reads the target again).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from shared.partner_center import (
    AzureEntitlement,
    PartnerCenterError,
    ServerError,
    Subscription,
    SubscriptionStatus,
    Throttled,
    TransportError,
)
from shared.services.messages import EnforcementRequest
from shared.services.state import Stores, SuspensionRecord, target_label

if TYPE_CHECKING:
    from shared.ports import PartnerCenter
    from shared.settings import Settings

TRANSIENT = (ServerError, Throttled, TransportError)
UNREADABLE = "unknown"  # the read-back itself failed: nothing is concluded, the record is kept


class TargetState(BaseModel):
    """One target's verified state after an enforcement request (in the outcome, the audit and the case)."""

    target: str  # subscription id, or "plan-id/entitlement-id"
    kind: Literal["subscription", "azure_subscription"]
    name: str = ""
    status: str  # what Partner Center showed at the last read ("unknown" when it could not be read)
    verified: bool  # that status is the one asked for
    held: bool  # csp-guard holds a record for it (it will lift it)
    changed: bool = False  # this request changed it
    error: str = ""  # what Partner Center answered, when it refused or the wait ended first


def _error(exc: PartnerCenterError) -> str:
    return f"{exc.code or exc.status}: {exc.description}"


def _record(req: EnforcementRequest, sub_id: str, now: datetime, name: str, *, entitlement: str | None = None,
            is_addon: bool = False, parent: str | None = None) -> SuspensionRecord:
    return SuspensionRecord(customer_id=req.customer_id, subscription_id=sub_id, reason=req.reason,
                            detail=req.detail, action_key=req.key, suspended_at=now, suspended_by=req.actor,
                            case_id=req.case_id, is_addon=is_addon, parent_subscription_id=parent, name=name,
                            entitlement_id=entitlement)


async def _put(stores: Stores, rec: SuspensionRecord) -> None:
    await asyncio.to_thread(stores.suspensions.upsert, rec.customer_id, rec.row, rec)


async def _drop(stores: Stores, customer_id: str, row: str) -> None:
    await asyncio.to_thread(stores.suspensions.delete, customer_id, row)


async def _read_sub(pc: PartnerCenter, customer_id: str, sub_id: str) -> str:
    try:
        return str((await pc.get_subscription(customer_id, sub_id)).status)
    except PartnerCenterError:
        return UNREADABLE


async def _read_ent(pc: PartnerCenter, customer_id: str, plan: str, eid: str) -> str:
    try:
        found = await pc.get_azure_entitlement(customer_id, plan, eid)
    except PartnerCenterError:
        return UNREADABLE
    return str(found.status) if found else "not found"


async def _await_cancel(pc: PartnerCenter, customer_id: str, plan: str, eid: str, settings: Settings) -> str:
    """Read an Azure subscription until an accepted cancel shows (anything but active) or the wait budget ends."""
    loop = asyncio.get_running_loop()
    end, interval = loop.time() + settings.pc_entitlement_wait_seconds, settings.pc_entitlement_poll_seconds
    while True:
        seen = await _read_ent(pc, customer_id, plan, eid)
        if seen != "active" or loop.time() >= end:
            return seen
        await asyncio.sleep(min(interval, max(end - loop.time(), 0)))
        interval = min(interval * 1.5, 10.0)


async def suspend_subscription(pc: PartnerCenter, stores: Stores, req: EnforcementRequest, sub: Subscription,
                               name: str, now: datetime, *, include_addons: bool = True) -> list[TargetState]:
    """PATCH an active subscription (and its active add-ons) to suspended; one state per subscription."""
    rec = _record(req, sub.id, now, name)
    await _put(stores, rec)
    addons: dict[str, SuspensionRecord] = {}
    try:
        if include_addons:  # each active add-on is recorded before the change too: a failure mid-loop forgets none
            for a in await pc.list_addons(req.customer_id, sub.id):
                if a.status != SubscriptionStatus.ACTIVE:
                    continue
                addons[a.id] = _record(req, a.id, now, a.friendly_name or a.id, is_addon=True, parent=sub.id)
                await _put(stores, addons[a.id])
        results = await pc.suspend(req.customer_id, sub.id, include_addons=include_addons)
    except TRANSIENT:
        raise
    except PartnerCenterError as exc:
        seen = await _read_sub(pc, req.customer_id, sub.id)
        suspended = seen == SubscriptionStatus.SUSPENDED  # it was active when chosen: this request did it
        if seen == SubscriptionStatus.ACTIVE:
            await _drop(stores, req.customer_id, rec.row)
        else:
            await _put(stores, rec.model_copy(update={"seen_status": seen,
                                                      "verified_at": now if suspended else None}))
        return [TargetState(target=sub.id, kind="subscription", name=name, status=seen, verified=suspended,
                            held=seen != SubscriptionStatus.ACTIVE, changed=suspended, error=_error(exc)),
                *[await _settle(pc, stores, a, now, _error(exc)) for a in addons.values()]]
    out = []
    for r in results:
        parent = r.subscription_id == sub.id
        if parent:
            # suspended by this PATCH: ours. Already suspended before it (someone else) or still active: not ours.
            # Anything else (deleted, expired...) is kept with what Partner Center showed, for a person to look at.
            held = (r.ok and r.changed) or (not r.ok and r.after != SubscriptionStatus.ACTIVE)
            if held:
                await _put(stores, rec.model_copy(update={"seen_status": str(r.after),
                                                          "verified_at": now if r.ok else None}))
            else:
                await _drop(stores, req.customer_id, rec.row)
        else:
            held = r.ok
            addon = addons.pop(r.subscription_id, None) or _record(req, r.subscription_id, now, r.subscription_id,
                                                                  is_addon=True, parent=sub.id)
            if held:
                await _put(stores, addon.model_copy(update={"seen_status": str(r.after), "verified_at": now}))
            else:
                await _drop(stores, req.customer_id, addon.row)
        out.append(TargetState(target=r.subscription_id, kind="subscription", name=name if parent else "",
                               status=str(r.after), verified=r.ok, held=held, changed=r.changed,
                               error="" if r.ok else f"read back {r.after}, expected {r.target}"))
    return out + [await _settle(pc, stores, a, now, "not changed by the suspension") for a in addons.values()]


async def _settle(pc: PartnerCenter, stores: Stores, rec: SuspensionRecord, now: datetime,
                  error: str) -> TargetState:
    """An add-on recorded before the change whose result is unknown: keep or drop its record on a read-back."""
    seen = await _read_sub(pc, rec.customer_id, rec.subscription_id)
    suspended = seen == SubscriptionStatus.SUSPENDED  # it was active just before this request: ours
    if seen == SubscriptionStatus.ACTIVE:
        await _drop(stores, rec.customer_id, rec.row)
    else:
        await _put(stores, rec.model_copy(update={"seen_status": seen, "verified_at": now if suspended else None}))
    return TargetState(target=rec.subscription_id, kind="subscription", status=seen, verified=suspended,
                       held=seen != SubscriptionStatus.ACTIVE, changed=suspended, error="" if suspended else error)


async def disable_entitlement(pc: PartnerCenter, stores: Stores, settings: Settings, req: EnforcementRequest,
                              plan: str, ent: AzureEntitlement, now: datetime, *, held_before: bool) -> TargetState:
    """Cancel one Azure subscription and poll until Partner Center shows it disabled (or the wait ends).

    ``held_before``: csp-guard already held a record for it (an earlier attempt), so a disabled status is ours.
    """
    label, name = target_label(plan, ent.id), ent.friendly_name or ent.id
    rec = _record(req, plan, now, name, entitlement=ent.id)
    await _put(stores, rec)
    accepted, changed, error = False, False, ""
    try:
        ch = await pc.cancel_azure_entitlement(req.customer_id, plan, ent.id, reason=req.detail[:200],
                                               wait=settings.pc_entitlement_wait_seconds,
                                               poll_interval=settings.pc_entitlement_poll_seconds)
    except TRANSIENT:
        raise
    except PartnerCenterError as exc:
        seen, error = await _read_ent(pc, req.customer_id, plan, ent.id), _error(exc)
        if exc.maybe_applied_earlier:  # the retry was refused, but the first attempt may have been processed
            accepted = True  # accepted, unverified: the record stays; wait for the cancel to show
            seen = await _await_cancel(pc, req.customer_id, plan, ent.id, settings) if seen == "active" else seen
            error = f"an earlier attempt may have been accepted (the retry was refused: {error}); Partner " \
                    f"Center shows {seen}"
    else:
        seen, accepted, changed = (str(ch.after) if ch.after is not None else "not found"), ch.requested, ch.changed
        if ch.before is None:
            error = "Partner Center does not list this Azure subscription under the plan"
        elif not ch.ok:
            error = f"cancel accepted; Partner Center still shows {seen} after {ch.waited_seconds:g} s"
        elif not accepted and not held_before:  # disabled before this request, and not by csp-guard
            await _drop(stores, req.customer_id, rec.row)
            return TargetState(target=label, kind="azure_subscription", name=name, status=seen, verified=True,
                               held=False)
    state = TargetState(target=label, kind="azure_subscription", name=name, status=seen, verified=False,
                        held=True, error=error)
    if seen == "active" and not accepted and not held_before:  # refused and still active: nothing to lift
        await _drop(stores, req.customer_id, rec.row)
        return state.model_copy(update={"held": False})
    # disabled (verified), or an accepted cancel still on its way, or unreadable: the record stays
    disabled = seen not in ("active", UNREADABLE, "not found")
    await _put(stores, rec.model_copy(update={"seen_status": seen, "verified_at": now if disabled else None}))
    return state.model_copy(update={"verified": disabled, "changed": changed or (disabled and not held_before)})


async def reactivate_record(pc: PartnerCenter, stores: Stores, settings: Settings,
                            rec: SuspensionRecord) -> TargetState:
    """Lift one thing csp-guard suspended/disabled; the record goes only once Partner Center shows it active."""
    kind: Literal["subscription", "azure_subscription"] = "azure_subscription" if rec.entitlement_id else "subscription"
    state = TargetState(target=rec.label, kind=kind, name=rec.name, status=rec.seen_status or UNREADABLE,
                        verified=False, held=True)
    if rec.entitlement_id and rec.verified_at is None:
        # a cancel accepted but never seen applied: an "active" read proves nothing (Partner Center may disable
        # it later, and nobody would lift it). Wait for it within the budget; else keep the record (pending).
        seen = await _await_cancel(pc, rec.customer_id, rec.subscription_id, rec.entitlement_id, settings)
        if seen in ("active", UNREADABLE):
            await _put(stores, rec.model_copy(update={"seen_status": seen}))
            return state.model_copy(update={"status": seen, "error": (
                f"pending: the cancel csp-guard sent is not yet applied (Partner Center shows {seen}); "
                "the record is kept and the next attempt reactivates it once the cancel shows")})
    try:
        if rec.entitlement_id:
            ch = await pc.reactivate_azure_entitlement(rec.customer_id, rec.subscription_id, rec.entitlement_id,
                                                       wait=settings.pc_entitlement_wait_seconds,
                                                       poll_interval=settings.pc_entitlement_poll_seconds)
            seen, ok, changed = (str(ch.after) if ch.after else "not found"), ch.ok, ch.changed
        else:
            results = await pc.reactivate(rec.customer_id, rec.subscription_id, include_addons=False)
            seen, ok, changed = str(results[0].after), results[0].ok, results[0].changed
    except TRANSIENT:
        raise
    except PartnerCenterError as exc:
        seen = await (_read_ent(pc, rec.customer_id, rec.subscription_id, rec.entitlement_id) if rec.entitlement_id
                      else _read_sub(pc, rec.customer_id, rec.subscription_id))
        ok, changed = seen == "active", False
        state = state.model_copy(update={"error": _error(exc)})
    if ok:
        await _drop(stores, rec.customer_id, rec.row)
        return state.model_copy(update={"status": seen, "verified": True, "held": False, "changed": changed})
    await _put(stores, rec.model_copy(update={"seen_status": seen}))
    return state.model_copy(update={"status": seen, "error": state.error or f"read back {seen}, expected active"})
