"""Rules document validation and ``assess``: outcomes, segments, shadow mode, lists, explanations."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from _fraud_builders import GPU, RULES, RULES_TEXT, history, line, morning_after, profile, steady

from shared.fraud import Outcome, RulesError, assess, parse_rules

ROOT = Path(__file__).resolve().parents[3]


def test_the_shipped_rules_file_is_valid() -> None:
    rules = parse_rules((ROOT / "config" / "fraud-rules.yaml").read_text())
    assert rules.version and {r.detector.value for r in rules.rules} >= {
        "spend_spike",
        "new_customer",
        "velocity",
        "risky_meter",
        "new_region",
        "subscription_burst",
        "fraud_event",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "version: v\nrules:\n - {id: a, detector: spend_spike, outcome: review, params: {z_treshold: 3}}",
            "rules.0 (a): Value error, spend_spike parameters: params.z_treshold: Extra inputs are not "
            "permitted",
        ),
        ("version: v\nrules:\n - {id: a, detector: spend_spike, outcome: block}", "rules.0 (a).outcome"),
        ("version: v\nrules:\n - {id: a, detector: teleport, outcome: review}", "rules.0 (a).detector"),
        (
            "version: v\nrules:\n - {id: a, detector: velocity, outcome: review, requires_approval: true}",
            "requires_approval applies only to outcome 'contain'",
        ),
        (
            "version: v\nrules:\n - {id: a, detector: velocity, outcome: review}\n"
            " - {id: a, detector: velocity, outcome: review}",
            "duplicate rule ids: ['a']",
        ),
        (
            "version: v\nlists: {allow: {customers: [x]}, block: {customers: [x]}}\nrules:\n"
            " - {id: a, detector: velocity, outcome: review}",
            "on both the allow and the block list",
        ),
        (
            "version: v\nrules:\n - {id: a, detector: spend_spike, outcome: review,"
            " segments: {big: {min_ratio: 0.5}}}",
            "segments.big.min_ratio: Input should be greater than 1",
        ),
        ("- just a list", "must be a mapping"),
    ],
)
def test_invalid_documents_are_rejected_with_the_offending_field(text: str, message: str) -> None:
    with pytest.raises(RulesError) as err:
        parse_rules(text)
    assert message in str(err.value)


def _spiky(customer: str, spike: float) -> list:
    return [*steady(customer, range(42)), line(customer, f"{customer}-s1", 42, spike)]


def test_strongest_non_shadow_outcome_wins_and_shadow_hits_are_kept_apart() -> None:
    h = history(_spiky("c1", 5000), _spiky("c2", 1000), _spiky("c3", 300))
    got = {a.customer_id: a for a in assess(h, {}, RULES, morning_after(42))}
    assert got["c1"].outcome is Outcome.CONTAIN and got["c1"].requires_approval
    assert {h.rule_id for h in got["c1"].hits} == {"spike.review", "spike.contain"}
    assert got["c2"].outcome is Outcome.REVIEW and not got["c2"].requires_approval
    # only the shadow rule fires for c3: recorded, nothing acted on
    assert got["c3"].outcome is Outcome.ALLOW and got["c3"].hits == ()
    assert [h.rule_id for h in got["c3"].shadow_hits] == ["spike.shadow"]
    assert any("(shadow, no action)" in e for e in got["c3"].explanations)
    assert all(a.rules_version == "t-1" for a in got.values())


def test_thresholds_follow_the_customer_segment() -> None:
    h = history(_spiky("c1", 1000))
    smb = assess(h, {"c1": profile("c1", segment="smb")}, RULES, morning_after(42))[0]
    ent = assess(h, {"c1": profile("c1", segment="enterprise")}, RULES, morning_after(42))[0]
    assert smb.outcome is Outcome.REVIEW and ent.outcome is Outcome.ALLOW
    assert ent.segment == "enterprise"


def test_allow_and_block_lists() -> None:
    h = history(
        _spiky("allowed", 5000),
        steady("blocked", range(43)),
        steady("c9", range(31)),
        [line("c9", "sub-allowed", 30, 300, meter=GPU)],
    )
    got = {a.customer_id: a for a in assess(h, {}, RULES, morning_after(42))}
    assert got["allowed"].outcome is Outcome.ALLOW and got["allowed"].listed == "allow"
    assert got["allowed"].hits  # still evaluated and explained
    assert got["blocked"].outcome is Outcome.CONTAIN and got["blocked"].listed == "block"
    assert got["blocked"].explanations[0].startswith("block list")
    gpu = assess(h, {}, RULES, morning_after(30))
    c9 = next(a for a in gpu if a.customer_id == "c9")
    assert c9.hits == () and any("allow list" in e for e in c9.explanations)


def test_fingerprint_changes_with_the_inputs_and_only_with_them() -> None:
    h = history(_spiky("c1", 1000))
    a1 = assess(h, {}, RULES, morning_after(42))[0]
    a2 = assess(h, {}, RULES, morning_after(42))[0]
    revised = history(_spiky("c1", 1000), [line("c1", "c1-s1", 10, 101)])
    a3 = assess(revised, {}, RULES, morning_after(42))[0]
    a4 = assess(h, {"c1": profile("c1", credit_limit=Decimal(1))}, RULES, morning_after(42))[0]
    assert a1.input_fingerprint == a2.input_fingerprint
    assert len({a1.input_fingerprint, a3.input_fingerprint, a4.input_fingerprint}) == 3
    assert RULES_TEXT  # the builders' document is the one under test
