"""Truth after every Partner Center change: the enforcement steps keep or drop csp-guard's record only on what a
read-back shows (an in-memory Partner Center and suspensions table; no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.partner_center import (
    AddOn,
    AzureEntitlement,
    ChangeResult,
    Conflict,
    EntitlementChange,
    NotFound,
    PermissionDenied,
    RestrictionError,
    ServerError,
    Subscription,
    SubscriptionStatus,
)
from shared.services.enforcement import _reactivation_order
from shared.services.enforcement_steps import disable_entitlement, reactivate_record, suspend_subscription
from shared.services.messages import EnforcementRequest
from shared.services.state import SuspensionRecord
from shared.settings import Settings

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
S, A = SubscriptionStatus.SUSPENDED, SubscriptionStatus.ACTIVE


class Table:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], SuspensionRecord] = {}

    def upsert(self, pk: str, rk: str, doc: SuspensionRecord) -> None:
        self.rows[(pk, rk)] = doc

    def delete(self, pk: str, rk: str) -> None:
        self.rows.pop((pk, rk), None)


class FakeStores:
    def __init__(self) -> None:
        self.suspensions = Table()


class FakePC:
    """Partner Center as the test sets it: statuses, and what a call does (a value, or an error to raise)."""

    def __init__(self, **status: str) -> None:
        self.status = dict(status)
        self.raise_on: dict[str, Exception] = {}
        self.apply = True  # a call changes the status before it raises (the error came after the change)
        self.lag = False  # an accepted cancel does not show before the wait ends
        self.unreadable = False
        self.addons: dict[str, list[str]] = {}  # parent -> its add-ons
        self.later: dict[str, int] = {}  # an accepted cancel that Partner Center applies after that many reads

    def _raise(self, what: str) -> None:
        if what in self.raise_on:
            raise self.raise_on[what]

    async def get_subscription(self, customer_id: str, sid: str) -> Subscription:
        if self.unreadable:
            raise ServerError("down")
        return Subscription(id=sid, status=self.status[sid])

    async def list_addons(self, customer_id: str, sid: str) -> list[AddOn]:
        return [AddOn(id=a, status=self.status[a], parent_subscription_id=sid) for a in self.addons.get(sid, [])]

    async def suspend(self, customer_id: str, sid: str, include_addons: bool = True) -> list[ChangeResult]:
        before = self.status[sid]
        if self.apply:
            self.status[sid] = "suspended"
        self._raise("suspend")
        out = [ChangeResult(customer_id=customer_id, subscription_id=sid, target=S, before=before,
                            after=self.status[sid], changed=before != self.status[sid])]
        for a in self.addons.get(sid, []) if include_addons else []:  # the client's loop, one PATCH per add-on
            self._raise(f"suspend:{a}")  # accepted for the earlier ones, then an error
            self.status[a] = "suspended"
            out.append(ChangeResult(customer_id=customer_id, subscription_id=a, target=S, before=A, after=S,
                                    changed=True))
        return out

    async def reactivate(self, customer_id: str, sid: str, include_addons: bool = True) -> list[ChangeResult]:
        self._raise("reactivate")
        before, self.status[sid] = self.status[sid], "active"
        return [ChangeResult(customer_id=customer_id, subscription_id=sid, target=A, before=before, after=A,
                             changed=before != "active")]

    async def get_azure_entitlement(self, customer_id: str, plan: str, eid: str) -> AzureEntitlement | None:
        if self.unreadable:
            raise ServerError("down")
        if eid in self.later:
            self.later[eid] -= 1
            if self.later[eid] <= 0:
                del self.later[eid]
                self.status[eid] = "disabled"
        return AzureEntitlement(id=eid, status=self.status[eid]) if eid in self.status else None

    async def cancel_azure_entitlement(self, customer_id: str, plan: str, eid: str, **kw: Any) -> EntitlementChange:
        before = self.status[eid]
        self._raise("cancel")
        if before == "active" and not self.lag:
            self.status[eid] = "disabled"
        return EntitlementChange(customer_id=customer_id, subscription_id=plan, entitlement_id=eid, action="cancel",
                                 before=before, after=self.status[eid], requested=before == "active")

    async def reactivate_azure_entitlement(self, customer_id: str, plan: str, eid: str,
                                           **kw: Any) -> EntitlementChange:
        before = self.status[eid]
        self._raise("reactivate")
        self.status[eid] = "active"
        return EntitlementChange(customer_id=customer_id, subscription_id=plan, entitlement_id=eid,
                                 action="reactivate", before=before, after="active", requested=before != "active")


REQ = EnforcementRequest(action="suspend", customer_id="c1", reason="nonpayment", key="k", detail="overdue",
                         requested_at=NOW, scope={"kind": "all"})
SETTINGS = Settings(AzureWebJobsStorage="UseDevelopmentStorage=true")
QUICK = Settings(AzureWebJobsStorage="UseDevelopmentStorage=true", CSPGUARD_PC_ENTITLEMENT_WAIT_SECONDS=0.05,
                 CSPGUARD_PC_ENTITLEMENT_POLL_SECONDS=0.01)
ENT = AzureEntitlement(id="e1", friendly_name="Azure subscription 1", status="active")


async def test_an_error_after_the_patch_keeps_the_suspension_partner_center_shows() -> None:
    pc, stores = FakePC(sub="active"), FakeStores()
    pc.raise_on["suspend"] = NotFound("listing add-ons: not found")  # non-transient, after the PATCH landed
    [state] = await suspend_subscription(pc, stores, REQ, Subscription(id="sub", status="active"), "Office", NOW)
    assert state.verified and state.held and state.status == "suspended" and "not found" in state.error
    rec = stores.suspensions.rows[("c1", "sub")]
    assert rec.seen_status == "suspended" and rec.verified_at == NOW  # never dropped: csp-guard will lift it


async def test_a_refusal_that_left_it_active_drops_the_record_and_says_why() -> None:
    pc, stores = FakePC(plan="active"), FakeStores()
    pc.apply = False
    pc.raise_on["suspend"] = RestrictionError("active Azure subscriptions", code="900115", status=403)
    [state] = await suspend_subscription(pc, stores, REQ, Subscription(id="plan", status="active"), "Plan", NOW)
    assert not state.verified and not state.held and state.error.startswith("900115")
    assert stores.suspensions.rows == {}


async def test_an_unreadable_read_back_keeps_the_record_and_concludes_nothing() -> None:
    pc, stores = FakePC(e1="active"), FakeStores()
    pc.raise_on["cancel"] = PermissionDenied("forbidden", status=403)
    pc.unreadable = True
    state = await disable_entitlement(pc, stores, SETTINGS, REQ, "plan", ENT, NOW, held_before=False)
    assert state.status == "unknown" and not state.verified and state.held
    assert stores.suspensions.rows[("c1", "plan_e1")].verified_at is None


async def test_azure_subscription_cancel_is_verified_refused_or_still_on_its_way() -> None:
    pc, stores = FakePC(e1="active"), FakeStores()
    state = await disable_entitlement(pc, stores, SETTINGS, REQ, "plan", ENT, NOW, held_before=False)
    assert (state.target, state.status, state.verified, state.changed) == ("plan/e1", "disabled", True, True)
    rec = stores.suspensions.rows[("c1", "plan_e1")]
    assert rec.entitlement_id == "e1" and rec.subscription_id == "plan" and rec.label == "plan/e1"

    pc, stores = FakePC(e1="active"), FakeStores()
    pc.raise_on["cancel"] = PermissionDenied("needs Admin Agent", status=403)
    state = await disable_entitlement(pc, stores, SETTINGS, REQ, "plan", ENT, NOW, held_before=False)
    assert state.status == "active" and not state.held and "Admin Agent" in state.error
    assert stores.suspensions.rows == {}

    pc, stores = FakePC(e1="active"), FakeStores()
    pc.lag = True  # accepted, but the read-back still shows active when the wait ends: keep the record
    state = await disable_entitlement(pc, stores, SETTINGS, REQ, "plan", ENT, NOW, held_before=False)
    assert not state.verified and state.held and state.error.startswith("cancel accepted")
    assert ("c1", "plan_e1") in stores.suspensions.rows


async def test_already_disabled_is_ours_only_if_csp_guard_held_it() -> None:
    off = ENT.model_copy(update={"status": "disabled"})
    pc, stores = FakePC(e1="disabled"), FakeStores()
    state = await disable_entitlement(pc, stores, SETTINGS, REQ, "plan", off, NOW, held_before=False)
    assert state.verified and not state.held and stores.suspensions.rows == {}
    state = await disable_entitlement(pc, stores, SETTINGS, REQ, "plan", off, NOW, held_before=True)
    assert state.verified and state.held and ("c1", "plan_e1") in stores.suspensions.rows


async def test_transient_errors_propagate_for_a_retry_and_the_record_stays() -> None:
    pc, stores = FakePC(e1="active"), FakeStores()
    pc.raise_on["cancel"] = ServerError("503", status=503)
    with pytest.raises(ServerError):
        await disable_entitlement(pc, stores, SETTINGS, REQ, "plan", ENT, NOW, held_before=False)
    assert ("c1", "plan_e1") in stores.suspensions.rows


def _rec(sub: str, ent: str | None = None, addon: bool = False) -> SuspensionRecord:
    return SuspensionRecord(customer_id="c1", subscription_id=sub, entitlement_id=ent, is_addon=addon,
                            reason="nonpayment", detail="d", action_key="k", suspended_at=NOW, suspended_by="x")


async def test_reactivation_goes_plan_first_and_keeps_what_partner_center_refuses() -> None:
    records = [_rec("o365-addon", addon=True), _rec("plan", "e1"), _rec("plan"), _rec("o365")]
    assert [r.label for r in sorted(records, key=_reactivation_order)] == ["plan", "o365", "plan/e1", "o365-addon"]
    pc, stores = FakePC(e1="disabled"), FakeStores()
    rec = _rec("plan", "e1")
    stores.suspensions.upsert("c1", rec.row, rec)
    pc.raise_on["reactivate"] = RestrictionError("plan suspended", code="800091", status=400)
    state = await reactivate_record(pc, stores, SETTINGS, rec)
    assert not state.verified and state.held and state.error.startswith("800091")
    assert stores.suspensions.rows[("c1", "plan_e1")].seen_status == "disabled"
    del pc.raise_on["reactivate"]
    state = await reactivate_record(pc, stores, SETTINGS, rec)
    assert state.verified and state.status == "active" and stores.suspensions.rows == {}


async def test_a_cancel_not_yet_applied_is_never_forgotten_by_a_reactivation_reading_active() -> None:
    pc, stores = FakePC(e1="active"), FakeStores()
    pc.lag = True  # accepted; Partner Center applies it only after the customer paid
    await disable_entitlement(pc, stores, SETTINGS, REQ, "plan", ENT, NOW, held_before=False)
    rec = stores.suspensions.rows[("c1", "plan_e1")]
    assert rec.verified_at is None
    state = await reactivate_record(pc, stores, QUICK, rec)  # reads "active": nothing to lift *yet*
    assert not state.verified and state.held and state.error.startswith("pending")
    assert ("c1", "plan_e1") in stores.suspensions.rows
    pc.later["e1"] = 2  # Partner Center now applies the cancel: the next attempt waits for it, then lifts it
    state = await reactivate_record(pc, stores, QUICK, stores.suspensions.rows[("c1", "plan_e1")])
    assert state.verified and state.status == "active" and pc.status["e1"] == "active"
    assert stores.suspensions.rows == {}


async def test_a_retried_cancel_refused_as_in_progress_is_accepted_unverified_and_kept() -> None:
    pc, stores = FakePC(e1="active"), FakeStores()
    refused = Conflict("a change is already in progress", status=409)
    refused.maybe_applied_earlier = True  # the first attempt timed out after Partner Center took it
    pc.raise_on["cancel"] = refused
    pc.later["e1"] = 3  # still active at the first read-backs, disabled soon after
    state = await disable_entitlement(pc, stores, QUICK, REQ, "plan", ENT, NOW, held_before=False)
    assert state.held and state.verified and state.changed and state.status == "disabled"
    assert stores.suspensions.rows[("c1", "plan_e1")].verified_at == NOW

    pc, stores = FakePC(e1="active"), FakeStores()
    pc.raise_on["cancel"] = refused  # never shows within the wait: still kept, unverified, for a person or a retry
    state = await disable_entitlement(pc, stores, QUICK, REQ, "plan", ENT, NOW, held_before=False)
    assert state.held and not state.verified and "earlier attempt" in state.error
    assert stores.suspensions.rows[("c1", "plan_e1")].verified_at is None


async def test_add_ons_suspended_before_an_error_mid_loop_are_recorded_and_lifted_later() -> None:
    pc, stores = FakePC(sub="active", a1="active", a2="active"), FakeStores()
    pc.addons["sub"] = ["a1", "a2"]
    pc.raise_on["suspend:a2"] = RestrictionError("add-on refused", code="27009", status=400)  # a1 is suspended
    states = await suspend_subscription(pc, stores, REQ, Subscription(id="sub", status="active"), "Office", NOW)
    assert {s.target: (s.status, s.held, s.verified) for s in states} == {
        "sub": ("suspended", True, True), "a1": ("suspended", True, True), "a2": ("active", False, False)}
    assert set(stores.suspensions.rows) == {("c1", "sub"), ("c1", "a1")}  # a1 will be lifted; a2 was never changed
    a1 = stores.suspensions.rows[("c1", "a1")]
    assert a1.is_addon and a1.parent_subscription_id == "sub" and a1.verified_at == NOW

    pc, stores = FakePC(sub="active", a1="active"), FakeStores()
    pc.addons["sub"] = ["a1"]
    states = await suspend_subscription(pc, stores, REQ, Subscription(id="sub", status="active"), "Office", NOW)
    assert [(s.target, s.verified) for s in states] == [("sub", True), ("a1", True)]
    assert stores.suspensions.rows[("c1", "a1")].verified_at == NOW


async def test_the_suspended_notice_names_only_what_partner_center_showed_suspended() -> None:
    from types import SimpleNamespace

    from shared.collections.ledger import CustomerLedger
    from shared.services.messages import CollectionsNotice
    from shared.services.notices import build_context
    from shared.services.state import CollectionsState

    done = _rec("o365").model_copy(update={"case_id": "case", "verified_at": NOW, "name": "Office"})
    pending = _rec("plan", "e1").model_copy(update={"case_id": "case", "name": "Azure subscription 1"})
    stores = SimpleNamespace(collections_state=lambda c: CollectionsState(customer_id=c),
                             suspended_by_us=lambda c: [done, pending])

    class Listing:
        async def list_subscriptions(self, customer_id: str) -> list[Subscription]:
            return []

    ctx = SimpleNamespace(settings=SETTINGS, partner_center=Listing, stores=stores)
    notice = CollectionsNotice(customer_id="c1", key="k:n", stage_id="s", template="suspension_done", case_id="case")
    out = await build_context(ctx, notice, CustomerLedger(customer_id="c1"), NOW)  # type: ignore[arg-type]
    assert [s["id"] for s in out["subscriptions"]] == ["o365"]


class Recorder:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def record(self, entry: Any) -> None:
        self.items.append(entry)

    def send(self, queue: Any, envelope: Any) -> None:
        self.items.append(envelope)


async def test_a_blocked_suspension_tells_the_team_blocked_and_why_never_failed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from shared.services import enforcement
    from shared.services.enforcement import Outcome, execute

    why = "payment feed silent for 50.0 h (limit 48 h): not suspending on stale data"
    monkeypatch.setattr(enforcement, "precheck", lambda *a: Outcome(key="k", status="blocked", detail=why))
    never_started = SimpleNamespace(status=lambda scope, key: None)  # no earlier attempt holds this request
    ctx = SimpleNamespace(stores=None, audit=Recorder(), producer=Recorder(), settings=SETTINGS,
                          idempotency=never_started)
    out = await execute(ctx, REQ, now=NOW)  # type: ignore[arg-type]
    assert out.status == "blocked"
    [envelope] = ctx.producer.items
    body = envelope.model_dump_json() if hasattr(envelope, "model_dump_json") else str(envelope)
    assert "team_alert" in body and "blocked: payment feed silent" in body
    assert "team_action_failed" not in body


async def test_a_dry_run_containment_is_not_a_failure_nor_escalated_nor_reported_to_21vianet(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from shared.fraud.cases import Case, CaseStatus, Containment, ContainmentStatus
    from shared.services.enforcement import Outcome
    from shared.services.fraud import containment
    from shared.services.fraud.store import CaseRecord

    case = Case.model_construct(case_id="case", customer_id="c1", status=CaseStatus.OPEN,
                                containment=Containment(status=ContainmentStatus.REQUESTED, targets=("plan/e1",)))
    stored = {"rec": CaseRecord.model_construct(case=case, containment_keys=[], alerts=[])}

    class Cases:
        def update(self, pk: str, rk: str, change: Any) -> Any:
            new = change(stored["rec"])
            stored["rec"] = new or stored["rec"]
            return new

    calls: list[str] = []
    monkeypatch.setattr(containment, "escalate", lambda *a: calls.append("escalate"))
    monkeypatch.setattr(containment, "raise_service_request", lambda *a: calls.append("service request"))
    ctx = SimpleNamespace(fraud=SimpleNamespace(cases=Cases()), audit=Recorder(), settings=SETTINGS)
    req = REQ.model_copy(update={"reason": "fraud", "case_id": "case", "subscription_ids": ("x",)})
    out = Outcome(key="k", status="dry_run", detail="would suspend; CSPGUARD_ENFORCEMENT_ENABLED is false")
    containment.record_outcome(ctx, req, out, NOW)  # type: ignore[arg-type]
    c = stored["rec"].case.containment
    assert c.status is ContainmentStatus.REQUESTED and c.detail.startswith("dry run: nothing sent")
    assert calls == [] and [e.outcome for e in ctx.audit.items] == ["dry_run"]


def test_the_service_request_carries_each_failed_target_with_what_partner_center_showed() -> None:
    from shared.fraud.cases import Case
    from shared.fraud.containment import record_containment_outcome
    from shared.fraud.evidence import containment_facts
    from shared.services.fraud.srpack import LiveDetails, _containment

    case = Case.model_construct(case_id="case", customer_id="c1", timeline=(), suspended=())
    case = record_containment_outcome(case, [], {"plan/e1": "cancel accepted; still active after 120 s",
                                                 "o365": "read back unknown"}, NOW)
    ctx = _containment(containment_facts(case), LiveDetails())
    assert {t["id"]: t["error"] for t in ctx["failed"]} == {"e1": "cancel accepted; still active after 120 s",
                                                             "o365": "read back unknown"}


async def test_a_missing_azure_subscription_status_is_unknown_never_taken_as_disabled() -> None:
    from shared.partner_center import AzureEntitlementStatus
    from shared.partner_center._entitlements import change_entitlement
    from shared.services.enforcement_targets import _mine

    bare = AzureEntitlement.model_validate({"id": "e1"})  # Partner Center left the status out
    assert bare.status == AzureEntitlementStatus.UNKNOWN and not bare.is_active and not bare.is_off
    assert _mine([bare], "plan", set()) == [bare]  # in scope: not skipped as if already disabled
    unknown = EntitlementChange(customer_id="c1", subscription_id="plan", entitlement_id="e1", action="cancel",
                                before="unknown", after="unknown", requested=True)
    assert not unknown.ok and not unknown.changed  # never "verified disabled"

    class Transport:
        def __init__(self) -> None:
            self.item: dict[str, str] = {"id": "e1"}
            self.sent: list[str] = []

        async def pages(self, call: Any) -> Any:
            yield {"items": [self.item]}

        async def send(self, call: Any) -> None:
            self.sent.append(call.method)
            self.item = {"id": "e1", "status": "disabled"}

    t = Transport()
    ch = await change_entitlement(t, "c1", "plan", "e1", "cancel", wait=0.05, poll_interval=0.01)  # type: ignore[arg-type]
    assert t.sent == ["POST"] and ch.requested and ch.ok and ch.after == "disabled"


def test_a_suspension_naming_nothing_is_refused_not_taken_as_all() -> None:
    from pydantic import ValidationError

    base = {"action": "suspend", "customer_id": "c1", "reason": "manual", "key": "k", "detail": "d",
            "requested_at": NOW}
    with pytest.raises(ValidationError, match="must name a scope"):
        EnforcementRequest.model_validate(base)
    assert EnforcementRequest.model_validate({**base, "scope": {"kind": "all"}}).scope is not None  # said so
    assert EnforcementRequest.model_validate({**base, "subscription_ids": ["s1"]})
    assert EnforcementRequest.model_validate({**base, "entitlements": [{"plan_subscription_id": "p",
                                                                        "entitlement_id": "e"}]})
    assert EnforcementRequest.model_validate({**base, "action": "reactivate"})  # a lift names what csp-guard held


def test_every_producer_of_a_suspension_still_names_its_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from shared.services.operators import ManualAction, manual_enforcement

    sent = Recorder()
    ctx = SimpleNamespace(stores=SimpleNamespace(suspended_by_us=lambda c: []), producer=sent)
    req = manual_enforcement(ctx, "c1", "suspend", ManualAction(all_subscriptions=True, reason="abuse report"),
                             "operator:x", NOW)  # type: ignore[arg-type]
    assert req.scope is not None and req.scope.kind == "all" and len(sent.items) == 1


def test_two_azure_subscriptions_spiking_on_one_plan_and_day_are_two_signals() -> None:
    from datetime import date

    from shared.fraud.signals import Detector, Signal

    def spike(ent: str) -> Signal:
        return Signal(detector=Detector.SPEND_SPIKE, customer_id="c1", day=date(2026, 11, 30),
                      subscription_ids=("plan",), entitlement_ids=(ent,), why="spike", figures={})

    assert spike("e1").key != spike("e2").key and spike("e1").key == spike("e1").key
    bare = Signal(detector=Detector.SPEND_SPIKE, customer_id="c1", day=date(2026, 11, 30),
                  subscription_ids=("plan",), why="spike", figures={})
    assert bare.key == "spend_spike:c1:plan:2026-11-30:"  # signals without Azure subscriptions keep their key
