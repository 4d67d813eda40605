"""Evidence pack rendering: a large case (many signals, Azure subscriptions and timeline entries) rendered in
zh-CN and English, as the service-request worker and ``GET .../evidence`` do (Partner Center not called).

Prints figures only; nothing is asserted. Run: .venv/bin/python bench/bench_evidence_pack.py [signals]
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.fraud import Case, Outcome
from shared.fraud.assess import RuleHit
from shared.fraud.cases import Containment, ContainmentStatus, EntryKind, TimelineEntry
from shared.fraud.signals import Detector, Signal
from shared.services.fraud import CaseRecord
from shared.services.fraud.srpack import LiveDetails, render_document
from shared.settings import load_settings


def big_case(signals: int) -> CaseRecord:
    t = datetime(2026, 11, 2, 8, tzinfo=UTC)
    hits = tuple(RuleHit(rule_id=f"rule-{i}", outcome=Outcome.CONTAIN, shadow=False, requires_approval=False,
                         signal=Signal(detector=Detector.RISKY_METER, customer_id="c", day=date(2026, 11, 1),
                                       subscription_ids=("plan",), entitlement_ids=(f"az-{i}",),
                                       meters=("NC24ads A100 v4",), regions=("chinanorth3",), why="GPU meters",
                                       figures={"amount": 3000, "threshold": 200}, amount_at_risk=Decimal(3000),
                                       ref=str(i))) for i in range(signals))
    timeline = tuple(TimelineEntry(at=t + timedelta(minutes=i), kind=EntryKind.ACTION, text=f"action {i}")
                     for i in range(signals * 4))
    targets = tuple(f"plan/az-{i}" for i in range(signals))
    case = Case(case_id="fraud-c-20261102T080000", customer_id="c", outcome=Outcome.CONTAIN, requires_approval=False,
                rules_version="v", opened_at=t, updated_at=t, first_signal_at=t, hits=hits, timeline=timeline,
                containment=Containment(status=ContainmentStatus.CONTAINED, verified_at=t, targets=targets,
                                        contained=targets))
    return CaseRecord(case=case, customer_name="Big Case Ltd")


def main(signals: int = 50, rounds: int = 50) -> None:
    settings = load_settings(AzureWebJobsStorage="UseDevelopmentStorage=true")
    rec = big_case(signals)
    now = datetime.now(UTC)
    doc = render_document(settings, rec, LiveDetails(), now)  # warm the template cache
    start = time.perf_counter()
    for _ in range(rounds):
        doc = render_document(settings, rec, LiveDetails(), now)
    per = (time.perf_counter() - start) / rounds
    print(f"evidence pack, {signals} signals / {signals} Azure subscriptions / {signals * 4} timeline entries, "
          f"zh-CN + English: {per * 1000:.1f} ms per pack; text {len(doc.as_text()):,} chars, "
          f"json {len(doc.as_json()):,} chars")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
