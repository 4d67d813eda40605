"""Benchmark: evaluate() over 100,000 synthetic in-memory ledgers on one core.

Prints ledgers built, build time, evaluations per second (goal >= 100,000/s), the stage mix and peak RSS.
Run: .venv/bin/python bench/bench_policy_eval.py [N] [--arrears-share 0.02]
Without --arrears-share every ledger has random open invoices (a harsh mix: most customers in a stage); with
it, only that share does and the rest are paid up, as in a real portfolio.
"""

from __future__ import annotations

import gc
import random
import resource
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.collections import (
    Calendar,
    CollectionsCase,
    CustomerLedger,
    SentNotice,
    apply_events,
    evaluate,
    parse_policy,
)
from shared.domain import InvoiceIssued, PaymentReceived

ROOT = Path(__file__).resolve().parents[1]
SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 7, 1, 10, 0, tzinfo=SH)  # a Wednesday, a working day, before the cut-off
STAMP = datetime(2026, 1, 1, tzinfo=SH)


def build(
    n: int, rnd: random.Random
) -> list[tuple[CustomerLedger, CollectionsCase | None, list[SentNotice]]]:
    """Ledgers of 1-4 invoices and 0-2 payments, due dates spread so every stage occurs."""
    out = []
    for i in range(n):
        cid = f"00000000-0000-4000-8000-{i:012d}"
        events: list = []
        for k in range(rnd.randint(1, 4)):
            due = NOW.date() - timedelta(days=rnd.randint(-20, 60))
            amount = Decimal(rnd.randint(100, 500_000)) / 100
            events.append(
                InvoiceIssued.model_construct(
                    event_id=f"{cid}-i{k}",
                    customer_id=cid,
                    occurred_at=STAMP,
                    type="invoice.issued",
                    invoice_id=f"inv{k}",
                    amount=amount,
                    currency="CNY",
                    issue_date=due - timedelta(days=30),
                    due_date=due,
                )
            )
        for k in range(rnd.randint(0, 2)):
            events.append(
                PaymentReceived.model_construct(
                    event_id=f"{cid}-p{k}",
                    customer_id=cid,
                    occurred_at=STAMP,
                    type="payment.received",
                    payment_id=f"p{k}",
                    amount=Decimal(rnd.randint(100, 300_000)) / 100,
                    currency="CNY",
                    received_at=STAMP,
                    invoice_id=None,
                )
            )
        ledger = apply_events(CustomerLedger.empty(cid), events)
        case, notices = None, []
        if rnd.random() < 0.5:
            opened = datetime.combine(date(2026, 5, 20), datetime.min.time(), tzinfo=SH)
            case = CollectionsCase(
                case_id=f"{cid}/k", customer_id=cid, policy_version=POLICY.version, opened_at=opened
            )
            notices = [
                SentNotice(stage_id="final_notice", sent_at=opened + timedelta(days=rnd.randint(0, 40)))
            ]
        out.append((ledger, case, notices))
    return out


POLICY = parse_policy((ROOT / "config/collections-policy.yaml").read_text(encoding="utf-8"))


def paid_up(n: int, start: int) -> list[tuple[CustomerLedger, CollectionsCase | None, list[SentNotice]]]:
    """Customers in good standing: last month's invoice, paid in full."""
    out = []
    for i in range(start, start + n):
        cid = f"00000000-0000-4000-8000-{i:012d}"
        due = NOW.date() - timedelta(days=5)
        events = [
            InvoiceIssued.model_construct(event_id=f"{cid}-i", customer_id=cid, occurred_at=STAMP,
                                          type="invoice.issued", invoice_id="inv", amount=Decimal("1200.00"),
                                          currency="CNY", issue_date=due - timedelta(days=30), due_date=due),
            PaymentReceived.model_construct(event_id=f"{cid}-p", customer_id=cid, occurred_at=STAMP,
                                            type="payment.received", payment_id="p", amount=Decimal("1200.00"),
                                            currency="CNY", received_at=STAMP, invoice_id="inv"),
        ]
        out.append((apply_events(CustomerLedger.empty(cid), events), None, []))
    return out


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", nargs="?", type=int, default=100_000)
    parser.add_argument("--arrears-share", type=float, default=None)
    args = parser.parse_args()
    n = args.n
    rnd = random.Random(7)
    t0 = time.perf_counter()
    if args.arrears_share is None:
        inputs = build(n, rnd)
    else:
        staged = round(n * args.arrears_share)
        inputs = build(staged, rnd) + paid_up(n - staged, staged)
        print(f"portfolio:            {staged} customers with open items, {n - staged} paid up")
    built = time.perf_counter() - t0
    calendar = Calendar("CN")
    evaluate(inputs[0][0], None, POLICY, calendar, NOW, inputs[0][2], inputs[0][1])  # warm the day cache
    gc.collect()
    gc.disable()
    t0 = time.perf_counter()
    decisions = [evaluate(led, None, POLICY, calendar, NOW, notices, case) for led, case, notices in inputs]
    elapsed = time.perf_counter() - t0
    gc.enable()
    stages = Counter(d.stage for d in decisions)
    suspends = sum(d.suspends for d in decisions)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ledgers built:        {n} in {built:.2f} s")
    print(f"evaluations:          {n} in {elapsed:.3f} s on one core")
    print(f"evaluations/second:   {n / elapsed:,.0f} (goal >= 100,000)")
    print(f"microseconds/eval:    {elapsed / n * 1e6:.1f}")
    print(f"stage mix:            {dict(sorted(stages.items(), key=lambda kv: str(kv[0])))}")
    print(f"decisions suspending: {suspends}")
    print(f"peak RSS:             {peak_mb:.0f} MiB")


if __name__ == "__main__":
    main()
