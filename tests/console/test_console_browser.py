"""The console in headless Chromium through the local stack: sign in as each role and see only what it allows,
suspend and reactivate a customer, approve a containment as a second person (not the one who asked), replay a
dead letter, switch to Chinese. Every page is saved as a screenshot under var/artifacts/console/."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from devtools.sandbox.inspect import entitlement_status
from shared.services.fraud import FraudStores
from shared.services.payments import event_envelope, parse_payment_event
from shared.services.state import ApprovalRequest, Stores
from shared.storage.azure import AzureTables
from shared.storage.deadletters import DeadLetterStore
from tests.console.conftest import ARTIFACTS
from tests.e2e_collections.conftest import CollectionsStack, add_customer, subscription_status, wait_until
from tests.e2e_fraud.conftest import azure_subscriptions, customer_with_history, inject_gpu_spike

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
OPERATOR = "olga.operator@partner.example"
APPROVER = "arun.approver@partner.example"


def _event(kind: str, customer_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"{kind}-{uuid.uuid4().hex[:10]}", "customer_id": customer_id,
            "occurred_at": datetime.now(UTC).isoformat(), **fields}


def _post_events(stack: CollectionsStack, events: list[dict[str, Any]]) -> None:
    with stack.api() as api:
        r = api.post("/payment-events", json=events, headers={"x-source-system": "billing-test"})
        assert r.status_code == 202, r.text


def _seed(stack: CollectionsStack) -> dict[str, Any]:
    """A customer 40 days overdue (CNY), one current (USD), and a GPU-spike customer with a containment waiting
    for approval, asked for by the operator's scan."""
    today = date.today()
    created = add_customer(stack, "Console Overdue Ltd", [{"kind": "azure_plan", "friendly_name": "Azure plan"}])
    overdue, plan = created["id"], created["subscriptions"][0]["id"]
    current = add_customer(stack, "Console Current Ltd", [{"kind": "azure_plan", "friendly_name": "Azure plan"}])["id"]
    _post_events(stack, [
        _event("customer.updated", overdue, name="Console Overdue Ltd", contact_email="ap@overdue.example"),
        _event("invoice.issued", overdue, invoice_id="INV-OVERDUE-1", amount="5000.00", currency="CNY",
               issue_date=(today - timedelta(days=70)).isoformat(), due_date=(today - timedelta(days=40)).isoformat()),
        _event("invoice.issued", overdue, invoice_id="INV-OVERDUE-2", amount="1200.50", currency="CNY",
               issue_date=(today - timedelta(days=20)).isoformat(), due_date=(today + timedelta(days=10)).isoformat()),
        _event("customer.updated", current, name="Console Current Ltd", contact_email="ap@current.example"),
        _event("invoice.issued", current, invoice_id="INV-CURRENT-1", amount="800.00", currency="USD",
               issue_date=(today - timedelta(days=5)).isoformat(), due_date=(today + timedelta(days=25)).isoformat()),
    ])
    with stack.api() as api:
        wait_until(lambda: api.get(f"/customers/{overdue}/status").status_code == 200, what="ledger")
    spiky, gpu_plan = customer_with_history(stack, "Console GPU Ltd")
    inject_gpu_spike(stack, spiky, gpu_plan)
    with stack.api() as api:
        run = api.post("/fraud/scan", headers={"x-actor": OPERATOR}).json()
        wait_until(lambda: api.get(f"/fraud/scans/{run['run_id']}").json()["status"] == "completed", what="scan")
        case = api.get(f"/fraud/cases/{spiky}").json()
    assert case["pending"]["status"] == "pending" and case["pending"]["requested_by"] == f"operator:{OPERATOR}"
    tables = AzureTables.from_connection_string(stack.azurite.connection_string)
    payment = parse_payment_event("payment.received", _event(
        "payment.received", current, payment_id=f"PAY-{uuid.uuid4().hex[:6]}", amount="800.00", currency="USD",
        invoice_id="INV-CURRENT-1", received_at=datetime.now(UTC).isoformat()))
    letter = DeadLetterStore(tables).put("payment-events", event_envelope(payment, "billing").model_dump_json(),
                                         "test: parked while the ledger was being repaired")
    approval = f"console-test:{overdue}:hold-review"  # a request the operator made, waiting for a second person
    Stores(tables).approvals.put("pending", approval, ApprovalRequest(
        key=approval, customer_id=overdue, action=None, requested_at=datetime.now(UTC),
        why="review the payment plan before the next sweep", requested_by=f"operator:{OPERATOR}"))
    return {"overdue": overdue, "plan": plan, "current": current, "spiky": spiky, "gpu_plan": gpu_plan,
            "letter": letter, "approval": approval}


@pytest.fixture(scope="module")
def seeded(console_stack: CollectionsStack) -> dict[str, Any]:
    return _seed(console_stack)


def sign_in(page: Any, base: str, user: str, roles: list[str], after: str = "/api/console") -> None:
    page.goto(f"{base}/.auth/logout")
    page.goto(f"{base}/.auth/login?post_login_redirect_uri={after}")
    assert page.locator("#local-banner").is_visible()  # clearly marked as local
    page.fill("#user", user)
    for role in roles:
        page.check(f"#role-{role}")
    page.click("#sign-in")
    page.wait_for_load_state()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def act(page: Any, button: str) -> tuple[int, str]:
    """Click an action button and wait for the API's answer in the status box."""
    page.click(button)
    page.wait_for_selector("#status[data-status]")
    box = page.locator("#status")
    return int(box.get_attribute("data-status") or 0), box.inner_text()


def test_signed_out_visitors_are_sent_to_sign_in(console_stack: CollectionsStack, browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"{console_stack.runner.base_url}/.auth/logout")
    page.goto(f"{console_stack.runner.base_url}/api/console/approvals")
    assert "/.auth/login" in page.url and page.locator("#sign-in").is_visible()
    shot(page, "sign-in")
    page.close()


def test_each_role_sees_only_what_it_may_do(console_stack: CollectionsStack, seeded: dict[str, Any],
                                            browser: Any) -> None:
    base = console_stack.runner.base_url
    page = browser.new_page()
    customer = f"/api/console/customers/{seeded['overdue']}"
    fraud = f"/api/console/fraud/{seeded['spiky']}"
    expect = {  # role -> (suspend form, approve containment, replay)
        "viewer": (False, False, False), "operator": (True, False, True),
        "approver": (False, True, False), "admin": (True, True, True)}
    for role, (can_suspend, can_approve, can_replay) in expect.items():
        sign_in(page, base, f"{role}@partner.example", [role], customer)
        assert page.locator("#who-roles").inner_text() == role
        assert page.locator("#suspend-form").count() == int(can_suspend), role
        assert (page.locator("#read-only").count() == 1) == (role == "viewer")
        page.goto(base + fraud)
        assert page.locator("#approve-containment").count() == int(can_approve), role
        page.goto(base + "/api/console/approvals")
        assert page.locator(f"tr[data-key='{seeded['approval']}'] button.approve").count() == int(can_approve), role
        page.goto(base + "/api/console/messages")
        assert (page.locator("button.replay").count() > 0) == can_replay, role
        shot(page, f"messages-{role}")
    sign_in(page, base, "nobody@partner.example", [], "/api/console")
    assert "no console role" in page.content()
    # the API refuses what the page hides: a viewer's session cannot suspend
    sign_in(page, base, "viewer@partner.example", ["viewer"], customer)
    answer = page.evaluate("""async (cid) => { const r = await fetch(`/api/customers/${cid}/actions/suspend`,
        {method: 'POST', headers: {'Content-Type': 'application/json'},
         body: JSON.stringify({reason: 'not allowed', all_subscriptions: true})}); return r.status; }""",
                           seeded["overdue"])
    assert answer == 403
    page.close()


def test_every_page_in_english_and_chinese(console_stack: CollectionsStack, seeded: dict[str, Any],
                                           browser: Any) -> None:
    base = console_stack.runner.base_url
    page = browser.new_page()
    sign_in(page, base, "admin@partner.example", ["admin"])
    pages = {"portfolio": "/api/console", "approvals": "/api/console/approvals",
             "customer": f"/api/console/customers/{seeded['overdue']}", "fraud": "/api/console/fraud",
             "fraud-case": f"/api/console/fraud/{seeded['spiky']}", "messages": "/api/console/messages",
             "policy": "/api/console/policy", "forecast": "/api/console/forecast"}
    page.goto(base + "/api/console?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    stages = page.locator("#stages").inner_text()
    assert "5000.00 CNY" in stages  # money as the API gives it: decimal strings, never floats
    assert page.locator(".ageing[data-currency='CNY'] rect").count() == 5
    assert page.locator(".ageing[data-currency='USD']").count() == 1
    for name, path in pages.items():
        page.goto(base + path)
        assert page.locator("h1").count() == 1, name
        shot(page, f"{name}-en")
    page.goto(base + "/api/console")
    page.click("#lang-switch")  # 中文
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "客户组合" in page.locator("h1").inner_text()
    for name, path in pages.items():  # the choice is kept (cookie) from page to page
        page.goto(base + path)
        assert page.locator("html").get_attribute("lang") == "zh-CN", name
        shot(page, f"{name}-zh-CN")
    page.goto(base + "/api/console/policy")
    assert "收款政策" in page.locator("#policy-doc").inner_text()
    page.goto(base + "/api/console?lang=en")
    shot(page, "portfolio")
    page.close()


def test_operator_suspends_and_reactivates_a_customer(console_stack: CollectionsStack, seeded: dict[str, Any],
                                                      browser: Any) -> None:
    stack, cid, plan = console_stack, seeded["overdue"], seeded["plan"]
    page = browser.new_page()
    sign_in(page, stack.runner.base_url, OPERATOR, ["operator"], f"/api/console/customers/{cid}?lang=en")
    page.fill("#suspend-form input[name=reason]", "customer asked us to stop usage")
    page.fill("#suspend-form input[name=subscription_ids]", plan)
    status, text = act(page, "#suspend")
    assert status == 202, text
    wait_until(lambda: subscription_status(stack, cid)[plan] == "suspended", what="suspended in Partner Center")
    page.goto(f"{stack.runner.base_url}/api/console/customers/{cid}")
    wait_until(lambda: page.reload() and plan in page.locator("#suspensions").inner_text()
               and f"operator:{OPERATOR}" in page.locator("#timeline").inner_text(),
               what="shown as suspended, by the operator, on the timeline")
    shot(page, "customer-suspended")
    page.fill("#reactivate-form input[name=reason]", "usage confirmed by the customer")
    status, text = act(page, "#reactivate")
    assert status == 202, text
    wait_until(lambda: subscription_status(stack, cid)[plan] == "active", what="reactivated in Partner Center")
    page.goto(f"{stack.runner.base_url}/api/console/customers/{cid}")
    page.fill("#promise-form input[name='amount.amount']", "5000.00")
    page.fill("#promise-form input[name='amount.currency']", "CNY")
    page.fill("#promise-form input[name=promised_date]", (date.today() + timedelta(days=3)).isoformat())
    status, text = act(page, "#set-promise")
    assert status == 201, text
    page.reload()
    assert "5000.00 CNY" in page.locator("#overrides").inner_text()
    assert f"operator:{OPERATOR}" in page.locator("#overrides").inner_text()
    shot(page, "customer-promise")
    page.close()


def test_containment_needs_a_second_person(console_stack: CollectionsStack, seeded: dict[str, Any],
                                           browser: Any) -> None:
    stack, cid, plan = console_stack, seeded["spiky"], seeded["gpu_plan"]
    base = stack.runner.base_url
    page = browser.new_page()
    # the operator who started the scan also holds the approver role: still not their own request
    sign_in(page, base, OPERATOR, ["operator", "approver"], f"/api/console/fraud/{cid}?lang=en")
    assert page.locator("#pending-containment").is_visible()
    status, text = act(page, "#approve-containment")
    assert status == 403 and "four eyes" in text
    running = azure_subscriptions(stack, cid, plan)[0]  # the Azure subscription that ran the GPUs
    assert entitlement_status(stack, cid)[running] == "active"
    sign_in(page, base, APPROVER, ["approver"], f"/api/console/fraud/{cid}")
    page.fill("#contain-form input[name=note]", "GPU spend 30x the baseline; confirmed with the account team")
    status, text = act(page, "#approve-containment")
    assert status == 202, text
    wait_until(lambda: entitlement_status(stack, cid)[running] == "disabled", what="contained in Partner Center")
    assert subscription_status(stack, cid)[plan] == "active"  # the plan and the licence stay: only that one
    rec = FraudStores(AzureTables.from_connection_string(stack.azurite.connection_string)).current(cid)
    assert rec is not None and rec.pending is not None and rec.pending.decided_by == f"operator:{APPROVER}"
    page.goto(f"{base}/api/console/fraud/{cid}")
    shot(page, "fraud-case-contained")
    page.close()


def test_an_approval_needs_a_second_person(console_stack: CollectionsStack, seeded: dict[str, Any],
                                           browser: Any) -> None:
    base, key = console_stack.runner.base_url, seeded["approval"]
    row = f"tr[data-key='{key}']"
    page = browser.new_page()
    sign_in(page, base, OPERATOR, ["operator", "approver"], "/api/console/approvals?lang=en")
    status, text = act(page, f"{row} button.approve")
    assert status == 403 and "four eyes" in text
    sign_in(page, base, APPROVER, ["approver"], "/api/console/approvals")
    page.fill(f"{row} input[name=note]", "plan agreed with the customer")
    status, text = act(page, f"{row} button.approve")
    assert status == 200, text
    page.reload()
    assert page.locator(row).count() == 0
    decided = page.locator("#decided").inner_text()
    assert key in decided and f"operator:{APPROVER}" in decided and "plan agreed with the customer" in decided
    shot(page, "approvals-decided")
    page.close()


def test_operator_replays_a_dead_letter(console_stack: CollectionsStack, seeded: dict[str, Any],
                                        browser: Any) -> None:
    stack, letter = console_stack, seeded["letter"]
    page = browser.new_page()
    sign_in(page, stack.runner.base_url, OPERATOR, ["operator"], "/api/console/messages?lang=en")
    row = page.locator(f"tr.letter[data-id='{letter.id}']")
    assert "parked while the ledger was being repaired" in row.inner_text()
    page.click(f"tr.letter[data-id='{letter.id}'] button.replay")
    page.wait_for_selector("#status[data-status]")
    assert page.locator("#status").get_attribute("data-status") == "200", page.locator("#status").inner_text()
    with stack.api() as api:
        wait_until(lambda: not any(i["open"] != "0.00" and i["invoice_id"] == "INV-CURRENT-1" for i in
                                   api.get(f"/customers/{seeded['current']}/status").json()["invoices"]),
                   what="the replayed payment applied")
    page.close()
