"""The policy the app ships: valid, its templates exist, and its exposure stage escalates before anything is due."""

from datetime import date
from decimal import Decimal
from pathlib import Path

from shared.collections import Calendar, evaluate
from shared.domain import Money
from shared.services.policies import load_policy_file
from tests.unit.collections._collections_builders import ev, issued, ledger, local

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_and_demo_policies_load_with_known_templates() -> None:
    shipped = load_policy_file(ROOT / "config" / "collections-policy.yaml")
    demo = load_policy_file(ROOT / "config" / "samples" / "collections-policy.demo.yaml")
    assert [s.id for s in demo.stages] == [s.id for s in shipped.stages]
    assert shipped.calendar.no_harm_on_holidays_or_eve and shipped.calendar.harm_cutoff_local_time is not None


def test_customer_far_over_its_credit_limit_is_escalated_before_invoices_fall_due() -> None:
    policy = load_policy_file(ROOT / "config" / "collections-policy.yaml")
    credit = ev("customer.updated", credit_limit={"amount": "10000.00", "currency": "CNY"})
    book = ledger(credit, issued("I1", "4000.00", date(2026, 7, 30)))
    now = local(2026, 7, 6)
    calm = evaluate(book, None, policy, Calendar("CN"), now, unbilled=Money(amount=Decimal("5000"), currency="CNY"))
    assert calm.stage is None
    hot = evaluate(book, None, policy, Calendar("CN"), now, unbilled=Money(amount=Decimal("16000"), currency="CNY"))
    assert hot.stage == "over_credit_limit"
    assert [a.kind for a in hot.actions] == ["notify_team"]
    assert not hot.suspends  # nothing is overdue: exposure alone never suspends
