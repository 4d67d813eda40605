"""Shadow mode end to end: the same GPU spike, rules in shadow, is recorded and acts on nothing."""

from __future__ import annotations

import time

import pytest

from tests.e2e_collections.conftest import CollectionsStack, subscription_status
from tests.e2e_fraud.conftest import SUPPORT, customer_with_history, fraud_stores, inject_gpu_spike, run_scan

pytestmark = pytest.mark.e2e


def test_shadow_rules_record_and_act_on_nothing(shadow_stack: CollectionsStack) -> None:
    stack = shadow_stack
    cid, plan = customer_with_history(stack, "Shadow GPU Ltd")
    inject_gpu_spike(stack, cid, plan)
    run = run_scan(stack)
    assert run["status"] == "completed" and run["shadow_flagged"] >= 1
    assert run["cases_opened"] == 0 and run["containments"] == 0 and run["flagged"] == 0
    records = list(fraud_stores(stack).assessments.partition(cid))
    assert records and "risky-meter.contain" in [h.rule_id for h in records[0].assessment.shadow_hits]
    assert records[0].assessment.outcome.value == "allow"
    with stack.api() as api:
        assert api.get(f"/fraud/cases/{cid}").status_code == 404
    time.sleep(1.0)
    assert subscription_status(stack, cid)[plan] == "active"
    assert not [m for m in stack.mailbox.messages() if SUPPORT in str(m["To"])]
