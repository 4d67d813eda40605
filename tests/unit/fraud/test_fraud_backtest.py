"""Backtest: day-by-day replay of stored history, per-rule counts and precision / recall from labels."""

from __future__ import annotations

from _fraud_builders import GPU, RULES, d, history, line, steady

from shared.fraud import backtest


def _portfolio():
    return history(
        steady("bad1", range(50)),
        [line("bad1", "bad1-s1", 45, 2000)],  # spike on day 45
        steady("bad2", range(50)),
        [line("bad2", "bad2-s1", 47, 150)],  # too small to see
        steady("good", range(50), amount=300),
        steady("gpu", range(50)),
        [line("gpu", "gpu-s1", 46, 900, meter=GPU)],  # new GPU use, labelled legit
    )


def test_backtest_reports_hits_first_flag_days_and_precision_recall_per_rule() -> None:
    labels = {"bad1": True, "bad2": True, "good": False, "gpu": False}
    report = backtest(_portfolio(), {}, RULES, d(40), d(49), labels)
    assert report.days == 10 and report.assessments == 40
    spike = next(r for r in report.rules if r.rule_id == "spike.review")
    assert spike.customers == ("bad1", "gpu") and spike.first_flagged == {"bad1": d(45), "gpu": d(46)}
    assert (spike.true_positives, spike.false_positives, spike.false_negatives) == (1, 1, 1)
    assert spike.precision == 0.5 and spike.recall == 0.5
    risky = next(r for r in report.rules if r.rule_id == "risky.review")
    assert risky.customers == ("gpu",) and risky.precision == 0.0 and risky.recall == 0.0
    shadow = next(r for r in report.rules if r.rule_id == "spike.shadow")
    assert shadow.shadow and "bad1" in shadow.customers
    assert report.overall.customers == ("bad1", "gpu") and report.overall.recall == 0.5
    assert report.outcomes["allow"] + report.outcomes["review"] + report.outcomes["contain"] == 40


def test_backtest_without_labels_reports_counts_only_and_never_looks_ahead() -> None:
    report = backtest(_portfolio(), {}, RULES, d(40), d(44))  # the spike on day 45 is after the window
    assert report.overall.customers == () and report.overall.precision is None
    assert all(r.hits == 0 for r in report.rules if not r.shadow)
