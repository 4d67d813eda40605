"""A containment Partner Center refuses, end to end: the case shows "failed" with Partner Center's answer, the
audit and the team's escalation say the same and name the Azure subscription that needs a person, nothing is
recorded as suspended, and the next scan retries it; once Partner Center accepts, the case is contained."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e_collections.conftest import CollectionsStack, entitlement_status, wait_until
from tests.e2e_fraud.conftest import (
    azure_subscriptions,
    collections_stores,
    customer_with_history,
    inject_gpu_spike,
    run_scan,
)

pytestmark = pytest.mark.e2e
TEAM = "collections@partner.example"


def _case(stack: CollectionsStack, cid: str, status: str) -> dict[str, Any]:
    with stack.api() as api:
        return wait_until(lambda: (lambda c: c if c["case"]["containment"]["status"] == status else None)(
            api.get(f"/fraud/cases/{cid}").json()), what=f"containment {status}")  # type: ignore[no-any-return]


def _config(stack: CollectionsStack, **values: Any) -> None:
    with stack.sandbox_admin() as admin:
        admin.patch("/_sandbox/config", json=values).raise_for_status()


def test_refused_containment_is_failed_everywhere_escalated_and_retried(contain_stack: CollectionsStack) -> None:
    stack = contain_stack
    cid, plan = customer_with_history(stack, "Refused Containment Ltd")
    inject_gpu_spike(stack, cid, plan)
    running = azure_subscriptions(stack, cid, plan)[0]
    label = f"{plan}/{running}"
    _config(stack, entitlement_admin_agent=False)  # the app's user lacks Admin Agent: Partner Center says 403
    try:
        run = run_scan(stack)
        assert run["status"] == "completed" and run["cases_opened"] == 1
        failed = _case(stack, cid, "failed")
    finally:
        _config(stack, entitlement_admin_agent=True)
    c = failed["case"]["containment"]
    assert c["failed"] == [label] and c["contained"] == [] and c["attempts"] == 1
    assert c["detail"].startswith("containment failed: 403") and "Admin Agent" in c["detail"]
    assert failed["case"]["suspended"] == [] and entitlement_status(stack, cid)[running] == "active"
    assert collections_stores(stack).suspended_by_us(cid) == []  # Partner Center shows it active: nothing to lift
    assert any("containment failed" in e["text"] for e in failed["case"]["timeline"])

    # the team hears that the action failed, with the Azure subscription that needs a person
    mail = wait_until(lambda: [m for m in stack.mailbox.messages() if TEAM in str(m["To"])
                               and "FAILED" in str(m["Subject"]) and "Refused Containment" in str(m["Subject"])],
                      what="escalation e-mail")
    text = mail[0].get_body(("plain",)).get_content()
    assert label in text and "Partner Center shows active" in text and "Admin Agent" in text

    # the next scan retries (bounded); Partner Center accepts now, and the case says contained
    again = run_scan(stack)
    assert again["status"] == "completed" and again["containments"] == 1 and again["cases_opened"] == 0
    contained = _case(stack, cid, "contained")
    assert contained["case"]["containment"]["contained"] == [label]
    assert contained["case"]["containment"]["attempts"] == 2
    assert entitlement_status(stack, cid)[running] == "disabled"
    assert [r.label for r in collections_stores(stack).suspended_by_us(cid)] == [label]
    third = run_scan(stack)
    assert third["containments"] == 0  # nothing left to retry
