"""The declared baseline through the runner's HTTP API: the operator route queues a customer.updated, the
payment-events worker applies it to the ledger, and the profile the scan builds carries it; bad declarations
and bad suppression periods are refused with a reason."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from shared.context import AppContext
from shared.services.fraud.profiles import profile_for
from shared.services.fraud.scan import load_rules
from shared.settings import load_settings
from tests.e2e_collections.conftest import CollectionsStack, wait_until
from tests.e2e_fraud.conftest import collections_stores, customer_with_history

pytestmark = pytest.mark.e2e


def test_a_declared_migration_reaches_the_profile_detection_reads(contain_stack: CollectionsStack) -> None:
    stack = contain_stack
    cid, _ = customer_with_history(stack, "Migrating Ltd")
    today = date.today()
    change = {"starts_on": today.isoformat(), "ends_on": (today + timedelta(days=14)).isoformat(),
              "expected_factor": 2.5, "regions": ["ChinaEast3"], "note": "data-centre migration"}
    with stack.api() as api:
        anonymous = api.post(f"/fraud/customers/{cid}/baseline", json={"planned_changes": [change]},
                             headers={"x-actor": ""})
        assert anonymous.status_code == 401  # signed out
        backwards = {**change, "ends_on": (today - timedelta(days=1)).isoformat()}
        bad = api.post(f"/fraud/customers/{cid}/baseline", json={"planned_changes": [backwards]})
        assert bad.status_code == 400 and "ends_on" in bad.text
        assert api.post(f"/fraud/customers/{cid}/baseline", json={"colour": "red"}).status_code == 400
        r = api.post(f"/fraud/customers/{cid}/baseline", json={
            "planned_changes": [change], "expected_monthly_spend": {"amount": "60000", "currency": "CNY"},
            "prepayment": {"amount": "10000", "currency": "CNY"}})
        assert r.status_code == 202, r.text
        assert api.post(f"/fraud/cases/{cid}/resolve", json={"label": "legitimate", "suppress_days": -1}
                        ).status_code == 400
    stores = collections_stores(stack)
    wait_until(lambda: (lambda ledger: ledger is not None and ledger.profile.planned_changes)(stores.ledger(cid)),
               what="the declaration applied to the ledger")
    ctx = AppContext(load_settings(**stack.settings))
    prof = profile_for(ctx, cid, load_rules(ctx.settings.fraud_rules_file))
    assert prof is not None and prof.declared_monthly_spend == Decimal(60000) and prof.prepayment == Decimal(10000)
    [notice] = prof.notices
    assert notice.expected_factor == 2.5 and notice.regions == ("chinaeast3",) and notice.covers(today)


def test_health_reports_a_stalled_usage_feed(contain_stack: CollectionsStack) -> None:
    import httpx

    from shared.clock import utcnow
    from shared.services.fraud.feed import PARTITION, ROW, UsageFeedStatus

    stack = contain_stack
    ctx = AppContext(load_settings(**stack.settings))
    long_ago = utcnow() - timedelta(hours=ctx.settings.fraud_usage_max_silence_hours + 5)
    ctx.fraud.usage_feed.upsert(PARTITION, ROW, UsageFeedStatus(newest_usage_day=long_ago.date(),
                                                              advanced_at=long_ago, checked_at=utcnow()))
    try:
        health = httpx.get(f"{stack.runner.base_url}/api/health", timeout=30).json()
    finally:
        ctx.fraud.usage_feed.delete(PARTITION, ROW)  # storage is shared with later tests
    assert health["usage_feed"]["status"] == "stalled" and health["status"] != "ok"
    assert any("usage feed has not advanced" in p for p in health["problems"])
