"""Issue 11 through ``assess`` (the engine call the scan makes): onboarding, scope, declarations, calendar,
look-back, explanations, suppression after a legitimate resolution."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from _fraud_builders import GPU, VM, d, history, line, morning_after, steady

from shared.fraud import CustomerProfile, SpendNotice, aggregate, assess_customer, open_or_update, parse_rules, resolve
from shared.fraud.models import History
from shared.fraud.peers import band_of, peer_baselines, peer_for
from shared.fraud.signals import Detector

RULES = parse_rules((Path(__file__).resolve().parents[3] / "config" / "fraud-rules.yaml").read_text())


def _detectors(a) -> set[str]:  # type: ignore[no-untyped-def]
    return {h.signal.detector.value for h in a.hits}


def _peers(h: History):  # type: ignore[no-untyped-def]
    return peer_baselines(h, {}, before=d(60).replace(), default_segment="smb")


def test_a_two_day_old_tenant_unknown_to_the_crm_running_gpus_is_flagged_on_its_first_usage_day() -> None:
    background = [steady(f"bg{k}", range(60), amount=80 + k) for k in range(20)]
    gpu = [line("newt", "newt-plan", 60, 7000, meter=GPU, entitlementId="newt-az1")]
    h = history(*background, gpu)
    # no ledger (no segment, no declared spend): only Partner Center's creation date is known
    prof = CustomerProfile(customer_id="newt", segment=None, onboarded_at=d(58))
    a = assess_customer("newt", h, prof, RULES, morning_after(60), _peers(h))
    assert {"risky_meter", "new_customer"} <= _detectors(a)
    risky = next(x.signal for x in a.hits if x.signal.detector is Detector.RISKY_METER)
    assert risky.subscription_ids == ("newt-plan",) and risky.entitlement_ids == ("newt-az1",)
    assert risky.meters == ("Virtual Machines / NCv3 Series / NC6s v3",) and risky.regions == ("chinanorth2",)
    assert "tenant created 2026-10-29" in risky.why and "money at stake 7000.00 CNY" in risky.why
    # the same tenant without a creation date is only seen by the peer comparison (its typical size band)
    blind = assess_customer("newt", h, None, RULES, morning_after(60), _peers(h))
    assert _detectors(blind) == {"new_customer"}
    newcomer = history(*background, [line("calm", "calm-plan", 60, 90, entitlementId="calm-az1")])
    calm = CustomerProfile(customer_id="calm", segment=None, onboarded_at=d(58))
    assert assess_customer("calm", newcomer, calm, RULES, morning_after(60), _peers(newcomer)).hits == ()


def test_peer_baselines_are_per_segment_and_size_band() -> None:
    small = [steady(f"s{k}", range(40), amount=50 + k) for k in range(10)]
    big = [steady(f"e{k}", range(40), amount=20000 + k) for k in range(3)]
    peers = peer_baselines(history(*small, *big), {}, before=d(40), default_segment="smb")
    typical = peer_for(peers, "smb", None)
    assert typical is not None and typical.band == band_of(50) and typical.customers == 10
    assert float(typical.p90_daily) < 100  # not lifted by the enterprises
    assert peer_for(peers, "smb", 25000).band == ">=10k/day"  # type: ignore[union-attr]


def test_one_subscription_inside_an_enterprise_is_not_averaged_away() -> None:
    subs = [[line("ent", f"ent-s{k}", n, 10000 + (n % 3) * 50) for n in range(42)] for k in range(6)]
    dev = [line("ent", "ent-dev", n, 800 if n < 41 else 9300, region="chinaeast2") for n in range(42)]
    h = history(*subs, dev)
    prof = CustomerProfile(customer_id="ent", segment="enterprise", onboarded_at=d(-400))
    a = assess_customer("ent", h, prof, RULES, morning_after(41), {})
    [spike] = [x.signal for x in a.hits if x.signal.detector is Detector.SPEND_SPIKE]
    assert spike.subscription_ids == ("ent-dev",) and spike.figures["level"] == "subscription"
    assert spike.amount_at_risk == Decimal("8500.00") and spike.regions == ("chinaeast2",)
    assert "threshold >= 2x" in spike.why and "baseline 800.00" in spike.why


def test_azure_subscriptions_under_one_plan_are_counted_one_by_one() -> None:
    base = [line("c1", "plan", n, 300, entitlementId="az-main") for n in range(30)]
    burst = [line("c1", "plan", 30, 40, entitlementId=f"az-new{k}") for k in range(20)]
    h = history(base, burst)
    series = h.customers["c1"]
    assert len(series.subscriptions) == 21 and series.daily[d(30)].total == Decimal(20 * 40)
    prof = CustomerProfile(customer_id="c1", segment="smb", onboarded_at=d(-300))
    a = assess_customer("c1", h, prof, RULES, morning_after(30), {})
    [burst_sig] = [x.signal for x in a.hits if x.signal.detector is Detector.SUBSCRIPTION_BURST]
    assert burst_sig.subscription_ids == ("plan",) and len(burst_sig.entitlement_ids) == 20


def test_usage_stored_per_plan_is_superseded_by_reads_naming_the_azure_subscription() -> None:
    old = history([line("c1", "plan", 5, 100)])  # a day stored before usage was kept per Azure subscription
    new = aggregate([line("c1", "plan", 5, 60, entitlementId="az1"), line("c1", "plan", 5, 40, entitlementId="az2")],
                    old)
    series = new.customers["c1"]
    assert set(series.subscriptions) == {"az1", "az2"} and series.daily[d(5)].total == Decimal(100)
    assert series.owners["az1"] == ("plan", "az1")


def test_a_declared_migration_and_a_region_move_are_not_flagged() -> None:
    base = [line("m", "m-s1", n, 1000 + (n % 2) * 30) for n in range(40)]
    move = [line("m", "m-s2", n, 1400, region="chinaeast3") for n in range(40, 44)]
    h = history(base, move)
    plain = CustomerProfile(customer_id="m", segment="smb", onboarded_at=d(-300))
    assert "new_region" in _detectors(assess_customer("m", h, plain, RULES, morning_after(40), {}))
    plan = SpendNotice(valid_from=d(39), valid_to=d(50), expected_factor=2.5, regions=("chinaeast3",))
    declared = plain.model_copy(update={"notices": (plan,)})
    assert assess_customer("m", h, declared, RULES, morning_after(40), {}).hits == ()
    # a move: the new region's spend is matched by a drop in the old one
    moved = history([line("m", "m-s1", n, 1000 + (n % 2) * 30 if n < 40 else 300) for n in range(44)],
                    [line("m", "m-s1", n, 730, region="chinaeast3") for n in range(40, 44)])
    assert assess_customer("m", moved, plain, RULES, morning_after(40), {}).hits == ()


def test_a_month_end_batch_from_the_first_month_is_a_calendar_effect_but_new_meters_are_not() -> None:
    # DAY0 is 1 Sep: days 28 and 29 are 29-30 Sep, the first month end in this history
    batch = history([line("b", "b-s1", n, 500 * (3.5 if n in (28, 29) else 1)) for n in range(30)])
    prof = CustomerProfile(customer_id="b", segment="smb", onboarded_at=d(-200))
    assert assess_customer("b", batch, prof, RULES, morning_after(29), {}).hits == ()
    crypto = history([line("b", "b-s1", n, 500) for n in range(30)],
                     [line("b", "b-s1", 29, 1300, meter=("Virtual Machines", "FSv2 Series", "F72s v2"))])
    assert "spend_spike" in _detectors(assess_customer("b", crypto, prof, RULES, morning_after(29), {}))


def test_the_look_back_window_catches_a_first_day_signal_a_later_scan_sees() -> None:
    h = history(steady("c1", range(30)), [line("c1", "c1-s2", n, 400, region="chinaeast3") for n in (28, 29)])
    prof = CustomerProfile(customer_id="c1", segment="smb", onboarded_at=d(-100))
    late = morning_after(29)  # the scan on the morning of day 28 did not run (or day 28's usage came late)
    assert assess_customer("c1", h, prof, RULES, late, {}, lookback_days=1).hits == ()
    [hit] = assess_customer("c1", h, prof, RULES, late, {}, lookback_days=3).hits
    assert hit.signal.detector is Detector.NEW_REGION and hit.signal.day == d(28)


def test_explanations_in_chinese_name_threshold_baseline_and_scope() -> None:
    h = history(steady("c1", range(30)), [line("c1", "c1-s1", 30, 800, meter=GPU)])
    prof = CustomerProfile(customer_id="c1", segment="smb", onboarded_at=d(-100))
    a = assess_customer("c1", h, prof, RULES, morning_after(30), {}, language="zh-CN")
    [hit] = [x for x in a.hits if x.signal.detector is Detector.RISKY_METER]
    why = hit.signal.why
    assert why.startswith("标记原因") and "超过阈值 >= 3x" in why and "基线 0.00" in why and "订阅 c1-s1" in why
    assert hit.signal.figures["threshold"] and hit.signal.figures["basis"]


def test_a_case_resolved_as_legitimate_suppresses_the_same_signal_kind_for_the_stated_period() -> None:
    h = history(steady("c1", range(30)), [line("c1", "c1-s1", 30, 800, meter=GPU)])
    prof = CustomerProfile(customer_id="c1", segment="smb", onboarded_at=d(-100))
    now = morning_after(30)
    case, _ = open_or_update(None, assess_customer("c1", h, prof, RULES, now, {}), now)
    assert case is not None
    closed, _ = resolve(case, "legitimate", now, by="ops", note="ML training, agreed", suppress_days=14)
    assert "risky_meter, spend_spike signals suppressed until 2026-10-16" in closed.timeline[-1].text
    more = aggregate([line("c1", "c1-s1", 31, 800 * 4, meter=GPU)], h)  # a bigger GPU day, same kind
    later = morning_after(31)
    again, changes = open_or_update(closed, assess_customer("c1", more, prof, RULES, later, {}), later)
    assert changes == [] and again is closed
    expired = morning_after(31) + timedelta(days=20)
    far = aggregate([line("c1", "c1-s1", 51, 800 * 20, meter=GPU)], more)
    reopened, changes = open_or_update(closed, assess_customer("c1", far, prof, RULES, expired, {}), expired)
    assert reopened is not None and reopened.case_id != closed.case_id and changes[0].kind == "opened"
    assert VM  # builders' default meter stays the ordinary one
