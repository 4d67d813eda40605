"""Every operator route answers its errors through the one table in ``functions/_http.py``: a storage outage is
the table's 503 (never a bare 500), Partner Center's refusals its 404/502, a missing letter its 404."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import azure.functions as func
import pytest

from shared.storage.errors import StorageUnavailable

C1 = "00000000-0000-4000-8000-0000000000c1"
OUTAGE = {"error": "storage unavailable, try again later: account unreachable"}
EVENT = {"event_id": "e1", "customer_id": C1, "occurred_at": "2026-01-01T00:00:00+08:00", "type": "payment.received",
         "payment_id": "p", "amount": "10.00", "currency": "CNY", "received_at": "2026-01-01T00:00:00Z"}


class Outage:
    """A context whose every port is unreachable, as when the storage account is down."""

    def __getattr__(self, name: str) -> Any:
        raise StorageUnavailable("account unreachable")


@pytest.fixture
def outage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPGUARD_LOCAL_SIGNIN", "true")
    monkeypatch.setattr("shared.context.get_context", lambda: Outage())


def _call(route: Any, method: str = "GET", body: Any = None, params: dict[str, str] | None = None,
          headers: dict[str, str] | None = None, **route_params: str) -> tuple[int, Any]:
    raw = b"" if body is None else json.dumps(body).encode()
    req = func.HttpRequest(method=method, url="http://localhost/api/x",
                           headers={"X-Actor": "ops@partner", **(headers or {})}, params=params or {},
                           route_params=route_params, body=raw)
    answer = route.build().get_user_function()(req)
    if inspect.isawaitable(answer):
        answer = asyncio.run(answer)
    return answer.status_code, json.loads(answer.get_body())


def _routes() -> list[tuple[str, Any, str, Any, dict[str, str], dict[str, str]]]:
    from functions import deadletters, forecast, fraud, fraud_requests, operators, payments, portfolio

    letter = {"queue": "payment-events", "letter_id": "l1"}
    return [
        ("dead letters", deadletters.list_dead_letters, "GET", None, {}, {}),
        ("dead letter", deadletters.get_dead_letter, "GET", None, {}, letter),
        ("discard", deadletters.settle_dead_letter, "POST", {"reason": "duplicate"}, {},
         {**letter, "operation": "discard"}),
        ("forecast", forecast.collections_forecast, "GET", None, {}, {}),
        ("fraud scan run", fraud.fraud_scan_run, "GET", None, {}, {"run_id": "r1"}),
        ("contain", fraud.fraud_contain, "POST", {"note": "n"}, {}, {"customer_id": C1}),
        ("baseline", fraud.fraud_baseline, "POST", {"onboarded_on": "2026-11-20"}, {}, {"customer_id": C1}),
        ("evidence", fraud_requests.fraud_evidence, "GET", None, {}, {"customer_id": C1}),
        ("runs", operators.sweep_runs, "GET", None, {}, {}),
        ("run", operators.sweep_run, "GET", None, {}, {"run_id": "r1"}),
        ("approvals", operators.approvals, "GET", None, {}, {}),
        ("dispute", operators.record_dispute, "POST", {"invoice_id": "I1", "reason": "wrong amount"}, {},
         {"customer_id": C1}),
        ("preview", operators.preview, "GET", None, {}, {}),
        ("portfolio", portfolio.portfolio, "GET", None, {}, {}),
        ("payment events", payments.post_payment_events, "POST", EVENT, {}, {}),
    ]


@pytest.mark.parametrize("case", range(len(_routes())), ids=lambda i: _routes()[i][0])
def test_a_storage_outage_is_the_tables_503_on_every_route(outage: None, case: int) -> None:
    _, route, method, body, params, route_params = _routes()[case]
    headers = {"X-Source-System": "erp"} if route_params == {} and method == "POST" else {}
    assert _call(route, method, body, params, headers, **route_params) == (503, OUTAGE)


def test_partner_center_refusals_of_a_containment_are_answered_by_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.fraud import fraud_contain
    from shared.partner_center import NotFound, ServerError

    monkeypatch.setenv("CSPGUARD_LOCAL_SIGNIN", "true")
    monkeypatch.setattr("shared.context.get_context", lambda: object())
    failures: list[Exception] = [NotFound("customer not found", code="600008"),
                                 ServerError("backend unavailable", code="500", status=503)]

    async def approve(*_: Any, **__: Any) -> Any:
        raise failures.pop(0)

    monkeypatch.setattr("shared.services.fraud.views.approve_containment", approve)
    assert _call(fraud_contain, "POST", {}, customer_id=C1) == (
        404, {"error": "Partner Center does not know this customer: customer not found"})
    assert _call(fraud_contain, "POST", {}, customer_id=C1) == (
        502, {"error": "Partner Center refused or failed (500): backend unavailable; try again"})


@pytest.fixture
def memory(monkeypatch: pytest.MonkeyPatch) -> Any:
    from shared.memory import MemoryContext
    from shared.settings import load_settings

    ctx = MemoryContext(load_settings(AzureWebJobsStorage="UseDevelopmentStorage=true"))
    monkeypatch.setenv("CSPGUARD_LOCAL_SIGNIN", "true")
    monkeypatch.setattr("shared.context.get_context", lambda: ctx)
    return ctx


def test_a_missing_letter_is_the_stores_entity_not_found_answered_404(memory: Any) -> None:
    from functions.deadletters import settle_dead_letter
    from shared.storage.errors import EntityNotFound

    with pytest.raises(EntityNotFound, match="no dead letter nope for queue payment-events"):
        memory.deadletters.settle("payment-events", "nope", {})
    assert _call(settle_dead_letter, "POST", {"reason": "duplicate"}, queue="payment-events", letter_id="nope",
                 operation="discard") == (404, {"error": "no dead letter nope for queue payment-events"})


def test_an_invalid_baseline_is_a_400_naming_the_problem(memory: Any) -> None:
    from functions.fraud import fraud_baseline

    status, body = _call(fraud_baseline, "POST", {"onboarded_on": "not a day"}, customer_id=C1)
    assert status == 400 and body["error"].startswith("onboarded_on:")
    assert _call(fraud_baseline, "POST", customer_id=C1) == (400, {
        "error": "declare at least one of ['expected_monthly_spend', 'prepayment', 'planned_changes', "
                 "'onboarded_on']; unknown: []"})


def test_the_read_routes_answer_through_their_use_cases(memory: Any) -> None:
    """Dead letters, sweep runs, disputes and the preview: what the route answers is the use case's, 4xx included."""
    from functions.deadletters import get_dead_letter, list_dead_letters
    from functions.operators import preview, record_dispute, sweep_run, sweep_runs

    kept = memory.deadletters.put("payment-events", "not json", "not JSON: Expecting value")
    status, listed = _call(list_dead_letters, params={"queue": "payment-events"})
    assert status == 200 and listed["count"] == 1 and listed["items"][0]["id"] == kept.id
    assert listed["items"][0] == {**kept.model_dump(mode="json"), "size": len("not json")}
    assert _call(get_dead_letter, queue="payment-events", letter_id=kept.id) == (200, listed["items"][0])
    assert _call(get_dead_letter, queue="payment-events", letter_id="nope") == (
        404, {"error": "no dead letter nope for queue payment-events"})
    assert _call(list_dead_letters, params={"status": "discarded"}) == (200, {"items": [], "count": 0})
    assert _call(sweep_runs) == (200, {"items": []})
    assert _call(sweep_run, run_id="nope") == (404, {"error": "no such run"})
    assert _call(record_dispute, "POST", {"invoice_id": "I1", "reason": "wrong"}, customer_id=C1) == (
        404, {"error": f"customer {C1} has no ledger (no payment events received)"})
    status, body = _call(preview, params={"at": "9999-01-01"})
    assert status == 400 and body["error"].startswith("at must be YYYY-MM-DD or an ISO timestamp in the accepted "
                                                      "window: 9999-01-01")
    status, body = _call(preview, params={"at": "2026-12-01"})
    assert status == 200 and body["customers"] == 0 and body["items"] == [] and body["at"].startswith("2026-12-01")
    assert body["guards"]["payment_feed"].startswith("payment feed never received")


def test_a_dispute_is_queued_as_an_invoice_disputed_event_for_the_routes_customer(memory: Any) -> None:
    from functions.operators import record_dispute
    from shared.clock import utcnow
    from shared.domain import parse_event
    from shared.messaging import Queue
    from shared.services.payments import record_event

    record_event(memory.stores, parse_event({**{k: EVENT[k] for k in ("customer_id", "occurred_at")},
                                             "event_id": "i", "type": "invoice.issued", "invoice_id": "I1",
                                             "amount": "100.00", "currency": "CNY", "issue_date": "2026-01-01",
                                             "due_date": "2026-01-31"}), utcnow())
    assert _call(record_dispute, "POST", {"invoice_id": "I1", "reason": "wrong", "event_id": "d1",
                                          "customer_id": "someone else"}, customer_id=C1)[0] == 400  # never the body's
    assert _call(record_dispute, "POST", {"invoice_id": "I1", "reason": "wrong", "event_id": "d1"},
                 customer_id=C1) == (202, {"accepted": ["d1"]})
    assert memory.queues.kinds(Queue.PAYMENT_EVENTS) == ["invoice.disputed"]
    status, body = _call(record_dispute, "POST", {"invoice_id": "I1", "amount": "-5"}, customer_id=C1)
    assert status == 400 and body["error"].startswith("invalid invoice.disputed event:")


def test_the_policy_document_and_portfolio_answer_through_their_use_cases(memory: Any) -> None:
    from functions.portfolio import policy_document, portfolio
    from shared.services.policies import policy_set

    version = policy_set(memory.settings).for_version(None).version
    status, doc = _call(policy_document, params={"language": "zh-CN"})
    assert status == 200 and (doc["version"], doc["language"]) == (version, "zh-CN") and doc["markdown"].strip()
    assert _call(policy_document, params={"language": "fr"}) == (400, {"error": "language must be en or zh-CN"})
    status, view = _call(portfolio)
    assert status == 200 and view["customers"] == 0 and view["policy_version"] == version and view["as_of"]


def test_a_manual_action_checks_the_subscriptions_with_partner_center_first(memory: Any) -> None:
    """Partner Center's answers in the request's terms (404 unknown customer, 502 failure, 400 unknown id); a known
    id is queued as Partner Center spells it."""
    from types import SimpleNamespace

    from functions.operators import manual_action
    from shared.messaging import Queue
    from shared.partner_center import NotFound, ServerError

    answers: list[Any] = [NotFound("customer not found"), ServerError("backend unavailable", code="500"),
                          [SimpleNamespace(id="Sub-A")], [SimpleNamespace(id="Sub-A")]]

    class PartnerCenter:
        async def list_subscriptions(self, customer_id: str) -> Any:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

    memory.partner_center = PartnerCenter
    body = {"reason": "contract ended", "subscription_ids": ["sub-a"], "request_id": "r1"}
    assert _call(manual_action, "POST", body, customer_id=C1, action="suspend") == (
        404, {"error": f"Partner Center does not know customer {C1}: customer not found"})
    assert _call(manual_action, "POST", body, customer_id=C1, action="suspend") == (
        502, {"error": "could not check the subscriptions with Partner Center (500): backend unavailable; nothing "
                       "was queued, try again"})
    status, refused = _call(manual_action, "POST", {**body, "subscription_ids": ["sub-b"]}, customer_id=C1,
                            action="suspend")
    assert status == 400 and "has no subscription(s) sub-b" in refused["error"]
    status, queued = _call(manual_action, "POST", body, customer_id=C1, action="suspend")
    assert status == 202 and queued["queued"]["subscription_ids"] == ["Sub-A"]
    assert memory.queues.kinds(Queue.ENFORCEMENT) == ["enforcement.action"]


def test_a_batch_restating_a_payment_id_with_other_content_is_a_409_naming_each_and_queues_nothing(
        memory: Any) -> None:
    from functions.payments import post_payment_events
    from shared.messaging import Queue

    twin = {**EVENT, "event_id": "e2", "amount": "5.00"}
    status, body = _call(post_payment_events, "POST", [EVENT, twin], headers={"X-Source-System": "erp"})
    assert status == 409 and list(body) == ["error", "problems"]
    assert body["error"] == "1 of 2 payments restate a recorded payment_id with other content; none was accepted"
    assert [(p["index"], p["event_id"]) for p in body["problems"]] == [(1, "e2")]
    assert memory.queues.kinds(Queue.PAYMENT_EVENTS) == []
    assert _call(post_payment_events, "POST", EVENT, headers={"X-Source-System": "erp"}) == (202, {"accepted": ["e1"]})
