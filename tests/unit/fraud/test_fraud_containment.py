"""Containment targets from signals, and the case's containment state from verified outcomes (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from shared.fraud import RulesError, parse_rules
from shared.fraud.assess import RuleHit
from shared.fraud.cases import Case, ContainmentStatus
from shared.fraud.containment import (
    MAX_CONTAINMENT_ATTEMPTS,
    containment_retry_due,
    containment_targets,
    mark_containment_requested,
    record_containment_outcome,
)
from shared.fraud.rules import ContainmentScope, Outcome
from shared.fraud.signals import Detector, Signal
from shared.services.fraud.targets import split_labels

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _hit(outcome: Outcome = Outcome.CONTAIN, subs: tuple[str, ...] = ("plan",), ents: tuple[str, ...] = ("e1",),
         containment: ContainmentScope = "affected", detector: Detector = Detector.RISKY_METER) -> RuleHit:
    sig = Signal(detector=detector, customer_id="c1", day=date(2026, 11, 29), subscription_ids=subs,
                 entitlement_ids=ents, meters=("NC24ads A100 v4",), regions=("chinanorth3",), why="GPU spend",
                 figures={"amount": 3000})
    return RuleHit(rule_id=f"r.{outcome.value}", outcome=outcome, shadow=False, requires_approval=False,
                   signal=sig, containment=containment)


def _case(*hits: RuleHit) -> Case:
    return Case(case_id="fraud-c1", customer_id="c1", outcome=Outcome.CONTAIN, requires_approval=False,
                rules_version="t", opened_at=NOW, updated_at=NOW, first_signal_at=NOW, hits=hits)


def test_a_usage_signal_targets_exactly_the_azure_subscription_that_ran_it() -> None:
    t = containment_targets(_case(_hit(), _hit(Outcome.REVIEW, subs=("licence",), ents=())))
    assert t.scope == "affected" and t.entitlements == (("plan", "e1"),) and t.subscriptions == ()


def test_a_signal_naming_the_plan_only_means_its_azure_subscriptions_and_no_subscription_means_azure_usage() -> None:
    assert containment_targets(_case(_hit(ents=()))).subscriptions == ("plan",)
    wide = containment_targets(_case(_hit(subs=(), ents=(), detector=Detector.VELOCITY)))
    assert wide.scope == "azure_usage"  # never the licences (e-mail) for a usage signal


def test_an_operator_containing_a_review_case_contains_what_its_signals_name_never_the_licences() -> None:
    review = _case(_hit(Outcome.REVIEW), _hit(Outcome.REVIEW, subs=("plan",), ents=()))
    t = containment_targets(review.model_copy(update={"outcome": Outcome.REVIEW}))
    assert t.scope == "affected" and t.entitlements == (("plan", "e1"),) and t.subscriptions == ("plan",)
    assert t.requires_approval  # a person decides: the rules only asked for review


def test_only_a_rule_or_the_block_list_reaches_the_whole_customer() -> None:
    assert containment_targets(_case(_hit(containment="customer"), _hit())).scope == "customer"
    assert containment_targets(_case(_hit(Outcome.REVIEW))).scope == "customer"  # block-listed: no contain hit
    rules = parse_rules('version: "1"\nrules:\n  - {id: a, detector: risky_meter, outcome: contain, '
                        'containment: azure_usage}\n')
    assert rules.rules[0].containment == "azure_usage"
    with pytest.raises(RulesError, match="containment applies only"):
        parse_rules('version: "1"\nrules:\n  - {id: a, detector: risky_meter, outcome: review, '
                    'containment: customer}\n')


def test_containment_state_comes_only_from_verified_outcomes() -> None:
    case = mark_containment_requested(_case(_hit()), ["plan/e1", "plan/e2"], NOW)
    assert case.containment.status is ContainmentStatus.REQUESTED and case.containment.attempts == 1
    later = NOW + timedelta(minutes=2)
    failed = record_containment_outcome(case, [], {"plan/e1": "403: Admin Agent", "plan/e2": "403: Admin Agent"},
                                        later)
    c = failed.containment
    assert c.status is ContainmentStatus.FAILED and c.detail.startswith("containment failed: 403") and "+1" in c.detail
    assert c.failed == ("plan/e1", "plan/e2") and failed.suspended == () and failed.contained_at is None
    assert c.errors == {"plan/e1": "403: Admin Agent", "plan/e2": "403: Admin Agent"}  # each target's own answer
    assert containment_retry_due(failed) and "needs a person" in failed.timeline[-1].text
    partial = record_containment_outcome(mark_containment_requested(failed, ["plan/e1", "plan/e2"], later),
                                         ["plan/e1"], {"plan/e2": "still active"}, later)
    assert partial.containment.status is ContainmentStatus.PARTIAL and partial.suspended == ("plan/e1",)
    done = record_containment_outcome(partial, ["plan/e2"], {}, later)
    assert done.containment.status is ContainmentStatus.CONTAINED and done.containment.contained == (
        "plan/e1", "plan/e2") and not containment_retry_due(done)
    assert "disabled 1 Azure subscription(s) (verified in Partner Center)" in done.timeline[-1].text


def test_retries_are_bounded() -> None:
    case = _case(_hit())
    for _ in range(MAX_CONTAINMENT_ATTEMPTS):
        case = record_containment_outcome(mark_containment_requested(case, ["plan/e1"], NOW), [],
                                          {"plan/e1": "refused"}, NOW)
    assert case.containment.status is ContainmentStatus.FAILED and not containment_retry_due(case)


def test_labels_split_into_subscriptions_and_azure_subscriptions() -> None:
    subs, azure = split_labels(["plan/e1", "legacy", "plan/e1"])
    assert subs == ("legacy",) and [(t.plan_subscription_id, t.entitlement_id) for t in azure] == [("plan", "e1")]


def test_a_request_without_an_outcome_is_planned_again_only_once_stale() -> None:
    from shared.fraud import record_action
    from shared.services.fraud.containment import REQUEST_STALE_AFTER, exclude, replan_due
    from shared.services.fraud.store import CaseRecord

    sent = mark_containment_requested(record_action(_case(_hit()), "containment requested: plan/e1", NOW),
                                      ["plan/e1"], NOW)
    rec = CaseRecord(case=sent, containment_keys=["k|plan/e1"])
    assert not replan_due(rec, NOW + timedelta(minutes=5)) and exclude(rec, NOW) == ["plan/e1"]
    later = NOW + REQUEST_STALE_AFTER + timedelta(minutes=1)
    assert replan_due(rec, later) and exclude(rec, later) == []


def test_containment_keys_are_typed_in_code_and_stored_in_the_form_every_version_reads() -> None:
    from shared.services.fraud.store import CaseRecord, ContainmentKey

    stored = {"case": _case(_hit()).model_dump(mode="json"),
              "containment_keys": ["fraud-c1:contain:0|plan/e1,licence", "fraud-c1:contain:1|", "bare",
                                   {"key": "fraud-c1:contain:2", "targets": ["plan/e2"]}]}
    rec = CaseRecord.model_validate(stored)
    assert rec.containment_keys == [ContainmentKey(key="fraud-c1:contain:0", targets=("plan/e1", "licence")),
                                    ContainmentKey(key="fraud-c1:contain:1"), ContainmentKey(key="bare"),
                                    ContainmentKey(key="fraud-c1:contain:2", targets=("plan/e2",))]
    assert rec.requested_targets == ("plan/e1", "licence", "plan/e2")
    written = rec.model_dump(mode="json")["containment_keys"]
    assert written[0] == "fraud-c1:contain:0|plan/e1,licence"  # stored as every version reads it (rollback-safe)
    assert CaseRecord.model_validate_json(rec.model_dump_json()) == rec
