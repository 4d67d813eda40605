"""``bench_fraud_detectors.py --source sandbox``: the detectors over the Partner Center sandbox's portfolio.

The portfolio, its usage and its ground truth come from ``devtools.sandbox.generator`` (written apart from
the detectors and the rules), so these figures are an out-of-sample check of config/fraud-rules.yaml.
Usage is streamed page by page as the sandbox serves it, each item parsed as the real scan does
(``UsageLineItem`` from the Partner Center client, then ``to_line``), profiles come from ``profile_for``
over what a collections ledger fed from Partner Center alone would hold (name, country: no segment, no
credit limit, no declared spend) plus the subscriptions' Partner Center ``creationDate`` (as the scan reads
them), and the replay is day by day with the same engine
calls as the built-in generator (aggregate, peer_baselines, assess).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from devtools.sandbox.generator import LOOKALIKE_KINDS, MISUSE_KINDS, generate_portfolio
from shared.collections.ledger import CustomerLedger
from shared.collections.ledger import CustomerProfile as LedgerProfile
from shared.fraud import CustomerProfile, History, Outcome, UsageLine, aggregate, assess, parse_rules, peer_baselines
from shared.partner_center import UsageLineItem
from shared.services.fraud.scan import profile_for, to_line

START = date(2026, 8, 1)
# The detector each sandbox misuse kind is meant for (crypto mining on FSv2/HB meters: a spend spike).
TARGETS = {
    "spend_spike": "crypto_sustained",
    "new_customer": "",
    "risky_meter": "gpu_spike",
    "new_region": "new_region_burst",
    "subscription_burst": "subscription_burst",
    "velocity": "",
    "fraud_event": "",
}


def run(args: Any, warmup: int) -> None:
    """Generate, stream, replay and print the figures (same metrics as the built-in source)."""
    root = Path(__file__).resolve().parents[1]
    rules = parse_rules((root / "config" / "fraud-rules.yaml").read_text())
    detector_of = {r.id: r.detector.value for r in rules.rules}
    lo, hi = (int(x) for x in args.subs.split(","))
    t0 = time.perf_counter()
    pf = generate_portfolio(args.seed, args.customers, (lo, hi), args.days, args.misuse_share,
                            args.lookalike_share, start=START)
    t_build = time.perf_counter() - t0
    # Sandbox crypto starts from day days//3, the others from days//2: start scoring before either.
    warmup = min(warmup, max(1, args.days // 3) - 1)
    ledgers = {c.id: CustomerLedger(customer_id=c.id, profile=LedgerProfile(name=c.company_name,
                                                                            country=c.country))
               for c in pf.customers}
    ctx = cast(Any, SimpleNamespace(stores=SimpleNamespace(ledger=ledgers.get)))
    # what the scan reads from Partner Center's subscriptions (creationDate) for each customer with usage
    created: dict[str, dict[str, date]] = defaultdict(dict)
    for s in pf.subscriptions:
        created[s.customer_id][s.id] = s.creation
    truth = pf.misuse

    history = History()
    profiles: dict[str, CustomerProfile] = {}
    peers: dict = {}
    pending: list[UsageLine] = []
    day = 0
    n_lines = n_pages = n_assess = 0
    t_gen = t_parse = t_agg = t_assess = 0.0
    first_flag: dict[str, int] = {}
    first_by_detector: dict[str, dict[str, int]] = defaultdict(dict)
    fired_by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    fired_seen: set[tuple[str, str]] = set()
    outcomes: Counter[str] = Counter()

    def close_day(d: int) -> None:
        """Fold day ``d``'s usage in, then run the next morning's assessment (as the daily timer would)."""
        nonlocal history, peers, pending, t_agg, t_assess, n_assess
        t1 = time.perf_counter()
        history = aggregate(pending, history)
        pending = []
        t2 = time.perf_counter()
        t_agg += t2 - t1
        if d < warmup:
            return
        now = datetime.combine(START + timedelta(days=d + 1), datetime.min.time()).replace(hour=6)
        if not peers or now.weekday() == 0:
            peers = peer_baselines(history, profiles, before=now.date(), default_segment=rules.default_segment)
        for a in assess(history, profiles, rules, now, peers):
            n_assess += 1
            outcomes[a.outcome.value] += 1
            if a.outcome is not Outcome.ALLOW:
                first_flag.setdefault(a.customer_id, d)
            for h in a.hits:
                if h.outcome is not Outcome.ALLOW:
                    det = detector_of[h.rule_id]
                    first_by_detector[det].setdefault(a.customer_id, d)
                    m = truth.get(a.customer_id)
                    if m and d >= m.start_day and (det, a.customer_id) not in fired_seen:
                        fired_seen.add((det, a.customer_id))
                        fired_by_kind[m.kind][det] += 1
        t_assess += time.perf_counter() - t2

    cursor = None
    while True:
        t1 = time.perf_counter()
        items, cursor = pf.usage_page(cursor, args.page_size)
        t2 = time.perf_counter()
        lines = [ln for ln in (to_line(UsageLineItem.model_validate(i)) for i in items) if ln is not None]
        t_gen, t_parse = t_gen + t2 - t1, t_parse + time.perf_counter() - t2
        n_pages, n_lines = n_pages + 1, n_lines + len(lines)
        for ln in lines:
            d = (ln.usage_date - START).days
            while d > day:  # the stream is day-major: a later day means the earlier one is complete
                close_day(day)
                day += 1
            pending.append(ln)
            if ln.customer_id not in profiles and (
                    p := profile_for(ctx, ln.customer_id, rules, created[ln.customer_id])) is not None:
                profiles[ln.customer_id] = p
        if cursor is None:
            break
    while day < args.days:
        close_day(day)
        day += 1

    def score(flags: dict[str, int]) -> tuple[int, int, int, float, float]:
        tp = sum(1 for cid, d in flags.items() if cid in truth and d >= truth[cid].start_day)
        fp = len(flags) - tp
        fn = len(truth) - tp
        return tp, fp, fn, tp / max(tp + fp, 1), tp / max(tp + fn, 1)

    work = t_parse + t_agg + t_assess
    print(f"source: devtools.sandbox.generator.generate_portfolio (seed {args.seed}, subscriptions/customer "
          f"{lo}..{hi}); portfolio built in {t_build:.1f} s")
    print(f"portfolio: {args.customers} customers x {args.days} days, misuse {len(truth)} "
          f"{dict(Counter(m.kind for m in truth.values()))}, look-alikes {len(pf.lookalikes)}; "
          f"scored days {warmup}..{args.days - 1}; rules {rules.version}")
    print(f"usage line items: {n_lines:,} in {n_pages:,} pages of {args.page_size}; parse (UsageLineItem + "
          f"to_line) {n_lines / t_parse:,.0f}/s, aggregate {n_lines / t_agg:,.0f}/s, parse+aggregate+assess "
          f"{n_lines / work:,.0f}/s (sandbox generation {t_gen:.1f} s not counted)")
    print(f"assessments: {n_assess:,} in {t_assess:.1f} s ({n_assess / max(t_assess, 1e-9):,.0f}/s); "
          f"outcomes {dict(outcomes)}")
    tp, fp, fn, p, r = score(first_flag)
    print(f"\nOVERALL  precision {p:.3f}  recall {r:.3f}  (tp {tp}, fp {fp}, fn {fn})")
    print("\nper detector (recall over all misuse; target-kind recall):")
    for det, target in TARGETS.items():
        flags = first_by_detector.get(det, {})
        tp, fp, fn, p, r = score(flags)
        kind = [m for m in truth.values() if m.kind == target]
        kr = (sum(1 for m in kind if flags.get(m.customer_id, -1) >= m.start_day) / len(kind)
              if kind else float("nan"))
        print(f"  {det:<20} flagged {len(flags):>4}  precision {p:.3f}  recall {r:.3f}  "
              f"{(target or '-'):<20} recall {kr:.3f}")
    print("\nper misuse kind: recall; delay = daily runs between the first run that sees the misuse day's usage"
          " and the flag (0 = flagged by that run; wall clock adds Partner Center's ~24 h usage lag):")
    for kind in MISUSE_KINDS:
        ms = [m for m in truth.values() if m.kind == kind]
        delays = [first_flag[m.customer_id] - m.start_day for m in ms
                  if first_flag.get(m.customer_id, -1) >= m.start_day]
        fired = ", ".join(f"{k} {v}" for k, v in fired_by_kind[kind].most_common()) or "none"
        if delays:
            print(f"  {kind:<20} {len(delays)}/{len(ms)}  delay {statistics.median(delays):.0f} / {max(delays)} "
                  f"runs (median / max), {sum(1 for x in delays if x == 0)} by the first run; detectors: {fired}")
        else:
            print(f"  {kind:<20} 0/{len(ms)}; detectors: {fired}")
    print("\nfalse positives by kind of legitimate customer (or misuse customer flagged before its start):")
    fps = Counter(
        "misuse, early" if cid in truth else pf.lookalikes.get(cid, "ordinary")
        for cid, d in first_flag.items() if cid not in truth or d < truth[cid].start_day
    )
    counts = Counter(pf.lookalikes.values())
    for kind in LOOKALIKE_KINDS:
        print(f"  {kind:<22} {fps.get(kind, 0)}/{counts[kind]}")
    print(f"  {'ordinary':<22} {fps.get('ordinary', 0)}/{args.customers - len(truth) - len(pf.lookalikes)}"
          f"   misuse flagged early {fps.get('misuse, early', 0)}")
    fp_by_det = Counter(det for det, flags in first_by_detector.items() for cid, d in flags.items()
                        if cid not in truth or d < truth[cid].start_day)
    print(f"  false-positive flags by detector: {dict(fp_by_det.most_common())}")
    fp_days = Counter(str(START + timedelta(days=d)) for cid, d in first_flag.items()
                      if cid not in truth or d < truth[cid].start_day)
    print(f"  false positives by usage day: {dict(sorted(fp_days.items()))}")
