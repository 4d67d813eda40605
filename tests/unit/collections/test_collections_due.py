"""still_due / reactivation_due: one engine answer to "is this action still due" and "lift the suspension?"."""

from __future__ import annotations

import datetime as dt

from _collections_builders import C1, CAL, POLICY, issued, ledger
from hypothesis import given
from hypothesis import strategies as st
from test_collections_properties import SETTINGS, Inputs, inputs

from shared.collections import CollectionsCase, evaluate
from shared.collections.due import reactivation_due, still_due
from shared.collections.keys import ActionKey

STAGES = [s.id for s in POLICY.stages]
HARMFUL = [s.id for s in POLICY.stages if s.harmful]


@SETTINGS
@given(inputs(), st.sampled_from(HARMFUL), st.integers(0, 5))
def test_a_suspension_is_due_only_while_the_decision_asks_for_that_very_suspension(
        i: Inputs, stage: str, generation: int) -> None:
    d = i.decide()
    case = d.case.case_id if d.case else "k"
    key = ActionKey.for_stage("suspend", C1, stage, case_id=case).at(generation)
    due = still_due(d, key)
    assert due.due == any(a.kind == "suspend" and a.key == str(key.action) for a in d.actions)
    if d.stage != stage:  # a stage that is no longer the evaluated stage is never due
        assert not due and due.reason
    for a in d.actions:  # what the decision asks for is due, in any generation
        if a.kind == "suspend":
            assert still_due(d, a.action_key.at(generation))


@SETTINGS
@given(inputs(), st.sampled_from(STAGES))
def test_a_notice_of_a_stage_above_the_customers_is_never_due(i: Inputs, stage: str) -> None:
    d = i.decide()
    due = still_due(d, ActionKey.for_stage("notify_customer", C1, stage, case_id="k"), POLICY)
    if d.stage is None or STAGES.index(stage) + 1 > d.severity:
        assert not due
    else:
        assert due
    for a in d.actions:  # the decision's own notices are due
        if a.kind in ("notify_customer", "notify_team"):
            assert still_due(d, a.action_key, POLICY)


@SETTINGS
@given(inputs(), st.booleans())
def test_nothing_is_lifted_while_a_suspension_applies_and_the_engines_lift_always_goes(
        i: Inputs, held: bool) -> None:
    d = i.decide()
    lift = reactivation_due(d, held)
    request = still_due(d, ActionKey.reactivation(C1, 1))
    if d.suspends:
        assert not lift and not request
    else:
        assert request
    if any(a.kind == "reactivate" for a in d.actions):
        assert lift
    if not held and not any(a.kind == "reactivate" for a in d.actions):
        assert not lift  # the safety net lifts only what csp-guard holds


def test_the_reasons_say_why_not() -> None:
    assert still_due(None, ActionKey.parse("k:suspend_all:suspend:g0")).reason == "no suspension stage applies"
    notice = ActionKey.for_stage("notify_customer", C1, "final_notice", case_id="k")
    assert still_due(None, notice, POLICY).reason == "no collections stage applies any more"
    assert still_due(None, ActionKey.for_run("r1"))  # runs are a person's call, not the policy's
    assert still_due(None, ActionKey.reactivation(C1, 0)).reason == "no suspension stage applies"


def test_the_safety_net_lifts_after_a_case_closed_but_not_while_one_is_at_a_stage() -> None:
    now = dt.datetime(2026, 6, 3, 10, tzinfo=dt.UTC)
    d = evaluate(ledger(), None, POLICY, CAL, now)  # owes nothing: no case, no stage
    assert reactivation_due(d, True).reason == "no harmful collections stage applies any more"
    assert not reactivation_due(d, False)  # nothing csp-guard holds: nothing to lift
    case = CollectionsCase(case_id="k", customer_id=C1, policy_version=POLICY.version,
                           opened_at=now - dt.timedelta(days=5))
    d = evaluate(ledger(issued("i1", "5000.00", dt.date(2026, 5, 27))), None, POLICY, CAL, now, (), case)
    assert d.stage == "overdue" and not d.suspends  # a new case at a stage that does no harm
    assert reactivation_due(d, True).reason == "collections stage overdue of case k still applies"
