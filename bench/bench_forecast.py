"""Benchmark: a 30-day forecast vs one preview of the same 20,000-customer portfolio (in memory, one core).

Prints both times and their ratio (goal: forecast within 3x of one preview) and checks the forecast against
the slow reference that evaluates every customer every day (same days, notices, suspensions, refusals).
Run: .venv/bin/python bench/bench_forecast.py [N] [--days 30] [--arrears-share 0.02] [--repeat 3] [--no-check]
The portfolio is bench_policy_eval's: --arrears-share of the customers have open items, the rest are paid up.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_policy_eval import NOW, POLICY, build, paid_up

from shared.collections import Calendar, preview
from shared.collections.forecast import Guards, forecast, sweep_moments


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("n", nargs="?", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--arrears-share", type=float, default=0.02)
    ap.add_argument("--no-check", action="store_true", help="skip the slow every-day reference")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the fastest is reported")
    args = ap.parse_args()
    rnd = random.Random(7)
    staged = round(args.n * args.arrears_share)
    inputs = build(staged, rnd) + paid_up(args.n - staged, staged)
    ledgers = [led for led, _, _ in inputs]
    cases = {led.customer_id: case for led, case, _ in inputs if case is not None}
    notices = {led.customer_id: n for led, _, n in inputs if n}
    calendar = Calendar("CN")
    guards = Guards(max_suspensions_per_run=20, max_suspension_share=0.05)
    moments = sweep_moments("0 0 1 * * *", NOW - timedelta(hours=3), args.days)
    preview(ledgers[:10], POLICY, calendar, moments[0], notices=notices, cases=cases)  # warm caches

    one_preview, elapsed = float("inf"), float("inf")
    for _ in range(args.repeat):  # best of N: the machine is shared, the minimum is the least disturbed run
        gc.collect()
        t0 = time.perf_counter()
        decisions = preview(ledgers, POLICY, calendar, moments[0], notices=notices, cases=cases)
        one_preview = min(one_preview, time.perf_counter() - t0)
        gc.collect()
        t0 = time.perf_counter()
        days = forecast(ledgers, POLICY, calendar, moments, guards, notices=notices, cases=cases)
        elapsed = min(elapsed, time.perf_counter() - t0)
    evaluations = sum(d.evaluated for d in days)
    print(f"portfolio:            {args.n} customers ({staged} with open items), {len(decisions)} previewed")
    print(f"one preview:          {one_preview:.3f} s (best of {args.repeat})")
    print(f"forecast {args.days} days:     {elapsed:.3f} s (best of {args.repeat}; {evaluations} evaluations)")
    print(f"ratio:                {elapsed / one_preview:.2f}x one preview (goal <= 3x)")
    print(f"forecast totals:      {sum(len(v) for d in days for v in d.notices.values())} notices, "
          f"{sum(len(d.suspended) for d in days)} suspensions, {sum(len(d.refused) for d in days)} refusals, "
          f"{sum(1 for d in days if d.halted)} halted runs")
    if not args.no_check:
        t0 = time.perf_counter()
        slow = forecast(ledgers, POLICY, calendar, moments, guards, notices=notices, cases=cases, every_day=True)
        same = [d.model_dump(exclude={"evaluated"}) for d in days] == [d.model_dump(exclude={"evaluated"})
                                                                        for d in slow]
        print(f"every-day reference:  {time.perf_counter() - t0:.3f} s; identical result: {same}")
        if not same:
            raise SystemExit("the incremental forecast differs from the every-day reference")


if __name__ == "__main__":
    main()
