"""Each detector: a case it must flag and a look-alike it must not."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from _fraud_builders import GPU, d, history, line, morning_after, profile, steady

from shared.fraud import FraudEvent, PeerBaseline, SpendNotice
from shared.fraud.detectors import (
    Context,
    FraudEventParams,
    NewCustomerParams,
    NewRegionParams,
    RiskyMeterParams,
    SpikeParams,
    SubscriptionBurstParams,
    VelocityParams,
    detect_fraud_event,
    detect_new_customer,
    detect_new_region,
    detect_risky_meter,
    detect_spend_spike,
    detect_subscription_burst,
    detect_velocity,
)
from shared.fraud.signals import Detector


def ctx(h, customer: str, day: int, prof=None, peers=None, now=None, events=()) -> Context:
    return Context(
        customer,
        h.customers.get(customer),
        prof,
        d(day),
        now or morning_after(day),
        peers or {},
        tuple(events),
        segment=(prof.segment if prof else None) or "default",
    )


def test_spike_flags_a_jump_over_the_same_weekday_baseline_with_figures() -> None:
    h = history(steady("c1", range(42)), [line("c1", "c1-s1", 42, 2000)])
    [sig] = detect_spend_spike(ctx(h, "c1", 42), SpikeParams())
    assert sig.detector is Detector.SPEND_SPIKE
    assert sig.why.startswith("why flagged:")
    assert sig.figures["baseline"] == Decimal("100.00") and sig.figures["ratio"] == 20.0
    assert sig.amount_at_risk == Decimal("1900.00")


def test_spike_respects_weekly_seasonality_and_the_minimum_amount() -> None:
    # every 7th day is 5x higher: a high Monday is normal for this customer
    weekly = [line("c1", "c1-s1", n, 500 if n % 7 == 0 else 100) for n in range(49)]
    h = history(weekly)
    assert detect_spend_spike(ctx(h, "c1", 42), SpikeParams()) == []
    small = history(steady("c2", range(42), amount=10), [line("c2", "c2-s1", 42, 200)])
    assert detect_spend_spike(ctx(small, "c2", 42), SpikeParams()) == []  # 20x, but only 190 more


def test_spike_ignores_a_repeat_of_last_months_month_end_peak_and_a_declared_migration() -> None:
    days = range(0, 60)  # Sep 1 .. Oct 30; peaks on the last two days of September and of October
    peaks = {28, 29, 59}
    h = history([line("c1", "c1-s1", n, 1000 if n in peaks else 100) for n in days])
    assert detect_spend_spike(ctx(h, "c1", 59), SpikeParams()) == []
    assert detect_spend_spike(ctx(h, "c1", 29), SpikeParams(min_history_days=7)) != []  # no earlier month yet
    notice = SpendNotice(valid_from=d(40), valid_to=d(60), expected_daily_spend=Decimal(900))
    mig = history(steady("m", range(42)), [line("m", "m-s1", 42, 1000)])
    assert detect_spend_spike(ctx(mig, "m", 42, profile("m", notices=(notice,))), SpikeParams()) == []
    assert detect_spend_spike(ctx(mig, "m", 42, profile("m")), SpikeParams()) != []


def test_spike_does_not_use_usage_of_today_or_later() -> None:
    h = history(steady("c1", range(42)), [line("c1", "c1-s1", 42, 2000)])
    assert (
        detect_spend_spike(ctx(h, "c1", 42, now=datetime.combine(d(42), datetime.min.time())), SpikeParams())
        == []
    )


def test_new_customer_is_judged_against_declared_spend_then_peers() -> None:
    h = history([line("n1", "n1-s1", 0, 900), line("n1", "n1-s1", 1, 950)])
    declared = profile("n1", declared_monthly_spend=Decimal(3000), onboarded_at=d(0))  # 100 a day
    [sig] = detect_new_customer(ctx(h, "n1", 1, declared), NewCustomerParams())
    assert "declared expected monthly spend" in sig.why and sig.figures["days_of_usage"] == 2
    big = profile("n1", declared_monthly_spend=Decimal(30000), onboarded_at=d(0))
    assert detect_new_customer(ctx(h, "n1", 1, big), NewCustomerParams()) == []
    peers = {
        ("smb", "100-1k/day"): PeerBaseline(segment="smb", band="100-1k/day", median_daily=Decimal(50),
                                            p90_daily=Decimal(150), customers=80)
    }
    undeclared = profile("n1", segment="smb", onboarded_at=d(0))
    [peer_sig] = detect_new_customer(ctx(h, "n1", 1, undeclared, peers), NewCustomerParams())
    assert "segment smb, size band 100-1k/day" in peer_sig.why
    rich_peers = {
        ("smb", "1k-10k/day"): PeerBaseline(segment="smb", band="1k-10k/day", median_daily=Decimal(500),
                                            p90_daily=Decimal(1500), customers=80)
    }
    assert detect_new_customer(ctx(h, "n1", 1, undeclared, rich_peers), NewCustomerParams()) == []
    # an established customer is not "new", whatever it spends
    old = history(steady("o", range(30)), [line("o", "o-s1", 30, 5000)])
    assert detect_new_customer(ctx(old, "o", 30, profile("o"), peers), NewCustomerParams()) == []


def test_velocity_projects_exposure_to_the_next_invoice() -> None:
    h = history(steady("c1", range(0, 10), amount=100), steady("c1", range(10, 13), amount=1000))
    prof = profile("c1", credit_limit=Decimal(10000), current_period_start=d(0), next_invoice_date=d(30))
    [sig] = detect_velocity(ctx(h, "c1", 12, prof), VelocityParams())
    # accrued 1000 + 3000, burn 1000/day for 17 more days
    assert sig.figures["projected_exposure"] == Decimal("21000.00")
    assert sig.amount_at_risk == Decimal("11000.00")
    roomy = prof.model_copy(update={"credit_limit": Decimal(50000)})
    assert detect_velocity(ctx(h, "c1", 12, roomy), VelocityParams()) == []
    assert (
        detect_velocity(ctx(h, "c1", 12, profile("c1")), VelocityParams()) == []
    )  # no limit: nothing to test


def test_risky_meter_flags_new_gpu_use_but_not_a_steady_gpu_user() -> None:
    base = steady("c1", range(30))
    h = history(base, [line("c1", "c1-s1", 30, 800, meter=GPU)])
    [sig] = detect_risky_meter(ctx(h, "c1", 30), RiskyMeterParams())
    assert sig.subscription_ids == ("c1-s1",) and sig.figures["previous_max"] == Decimal("0.00")
    gpu_user = history([line("g", "g-s1", n, 800, meter=GPU) for n in range(31)])
    assert detect_risky_meter(ctx(gpu_user, "g", 30), RiskyMeterParams()) == []
    ml = ("Machine Learning", "Compute", "Standard")
    assert (
        detect_risky_meter(
            ctx(history(base, [line("c1", "c1-s1", 30, 800, meter=ml)]), "c1", 30), RiskyMeterParams()
        )
        != []
    )


def test_new_region_flags_first_use_of_a_region_unless_declared() -> None:
    h = history(steady("c1", range(30)), [line("c1", "c1-s2", 30, 600, region="chinaeast3")])
    [sig] = detect_new_region(ctx(h, "c1", 30), NewRegionParams())
    assert sig.regions == ("chinaeast3",) and sig.subscription_ids == ("c1-s2",)
    notice = SpendNotice(
        valid_from=d(29), valid_to=d(40), expected_daily_spend=Decimal(700), regions=("ChinaEast3",)
    )
    assert detect_new_region(ctx(h, "c1", 30, profile("c1", notices=(notice,))), NewRegionParams()) == []
    # the day after, the region is no longer new
    h2 = history(
        steady("c1", range(30)), [line("c1", "c1-s2", n, 600, region="chinaeast3") for n in (30, 31)]
    )
    assert detect_new_region(ctx(h2, "c1", 31), NewRegionParams()) == []


def test_subscription_burst_counts_subscriptions_starting_within_the_window() -> None:
    base = steady("c1", range(20))
    burst = [line("c1", f"c1-x{k}", 20 + k % 2, 50) for k in range(4)]
    h = history(base, burst)
    [sig] = detect_subscription_burst(ctx(h, "c1", 21), SubscriptionBurstParams())
    assert sig.figures["new_subscriptions"] == 4
    slow = [line("c1", f"c1-x{k}", 10 + 4 * k, 50) for k in range(4)]
    assert detect_subscription_burst(ctx(history(base, slow), "c1", 22), SubscriptionBurstParams()) == []


def test_fraud_events_map_to_signals_only_while_active() -> None:
    h = history(steady("c1", range(3)))
    ev = FraudEvent.model_validate(
        {
            "eventId": "e1",
            "eventName": "CryptoMining",
            "eventStatus": "Active",
            "customerTenantId": "c1",
            "subscriptionId": "c1-s1",
            "hitCount": 3,
            "eventTime": "2026-09-03T10:00:00Z",
        }
    )
    now = datetime.fromisoformat("2026-09-03T11:00:00+00:00")
    [sig] = detect_fraud_event(ctx(h, "c1", 2, now=now, events=[ev]), FraudEventParams())
    assert sig.ref == "e1" and "CryptoMining" in sig.why and sig.subscription_ids == ("c1-s1",)
    resolved = ev.model_copy(update={"event_status": "Resolved"})
    assert detect_fraud_event(ctx(h, "c1", 2, now=now, events=[resolved]), FraudEventParams()) == []
    assert (
        detect_fraud_event(ctx(h, "c1", 2, now=now - timedelta(hours=2), events=[ev]), FraudEventParams())
        == []
    )
