"""The operators' fraud case API through its HTTP functions, on the in-memory table port (no Azurite).

What the routes answer is the use cases' (``shared.services.fraud.views``): the filter and order of the list,
the case with its response time, its earlier cases, suspensions read back before it is shown, and the 4xx.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import azure.functions as func
import pytest

from shared.fraud import Outcome
from shared.fraud.cases import Case, CaseStatus, EntryKind, TimelineEntry
from shared.services.fraud.store import CaseRecord, FraudStores
from shared.settings import Settings
from shared.storage.memory import MemoryTables

CID = "11111111-2222-3333-4444-555555555555"
OTHER = "99999999-2222-3333-4444-555555555555"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def record(self, entry: Any) -> None:
        self.items.append(entry)

    def send(self, queue: Any, envelope: Any, **_: Any) -> None:
        self.items.append(envelope)


def _case(customer: str, opened: datetime, status: CaseStatus = CaseStatus.OPEN, acted: bool = False) -> Case:
    entry = TimelineEntry(at=opened, kind=EntryKind.SIGNAL, text="GPU spend 40x the usual")
    return Case(case_id=f"fraud-{customer}-{opened:%Y%m%dT%H%M%S}", customer_id=customer, status=status,
                outcome=Outcome.CONTAIN, requires_approval=False, rules_version="t", opened_at=opened,
                updated_at=opened, first_signal_at=opened, timeline=(entry,),
                first_action_at=opened + timedelta(minutes=42) if acted else None)


@pytest.fixture
def ctx(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    fs = FraudStores(MemoryTables())  # the production repository over the in-memory table port
    suspended: list[Any] = []
    app = SimpleNamespace(fraud=fs, stores=SimpleNamespace(suspended_by_us=lambda cid: suspended), audit=Recorder(),
                          producer=Recorder(), settings=Settings(AzureWebJobsStorage="UseDevelopmentStorage=true"),
                          suspended=suspended)
    monkeypatch.setenv("CSPGUARD_LOCAL_SIGNIN", "true")
    monkeypatch.setattr("shared.context.get_context", lambda: app)
    return app


def _call(route: Any, method: str = "GET", body: Any = None, params: dict[str, str] | None = None,
          **route_params: str) -> tuple[int, Any]:
    raw = b"" if body is None else json.dumps(body).encode()
    req = func.HttpRequest(method=method, url="http://localhost/api/fraud", headers={"X-Actor": "ops@partner"},
                           params=params or {}, route_params=route_params, body=raw)
    resp = route.build().get_user_function()(req)
    return resp.status_code, json.loads(resp.get_body())


def test_the_case_list_shows_open_cases_newest_change_first_and_filters_by_status(ctx: SimpleNamespace) -> None:
    from functions.fraud import fraud_cases

    older = CaseRecord(case=_case(CID, T0, acted=True))
    newer = CaseRecord(case=_case(OTHER, T0 + timedelta(days=1), CaseStatus.INVESTIGATING))
    closed = CaseRecord(case=_case("c3", T0 + timedelta(days=2), CaseStatus.RESOLVED_FRAUD))
    for rec in (older, newer, closed):
        ctx.fraud.cases.upsert(rec.case.customer_id, "current", rec)
    status, body = _call(fraud_cases)
    assert status == 200 and [i["case"]["customer_id"] for i in body["items"]] == [OTHER, CID]
    first = body["items"][1]
    assert list(first)[-2:] == ["response_time_minutes", "within_guidance"]  # the record, then its timing
    assert first["response_time_minutes"] == 42.0 and first["within_guidance"] is True
    assert body["items"][0]["response_time_minutes"] is None and body["items"][0]["within_guidance"] is False
    assert first == {**older.model_dump(mode="json"), "response_time_minutes": 42.0, "within_guidance": True}
    assert [i["case"]["customer_id"] for i in _call(fraud_cases, params={"status": "all"})[1]["items"]] == [
        "c3", OTHER, CID]
    assert [i["case"]["status"] for i in _call(fraud_cases, params={"status": "resolved_fraud"})[1]["items"]] == [
        "resolved_fraud"]
    from shared.services.fraud.cases import list_cases

    assert [r.case.customer_id for r in list_cases(ctx, "resolved")] == ["c3"]  # the CLI's --status resolved
    assert _call(fraud_cases, params={"status": "closed"}) == (400, {
        "error": "status must be one of open, investigating, resolved_legitimate, resolved_fraud, all"})


def test_a_case_is_shown_with_suspensions_read_back_and_its_earlier_cases(ctx: SimpleNamespace) -> None:
    from functions.fraud import fraud_case

    earlier = CaseRecord(case=_case(CID, T0 - timedelta(days=30), CaseStatus.RESOLVED_LEGITIMATE))
    current = CaseRecord(case=_case(CID, T0))
    ctx.fraud.cases.upsert(CID, earlier.case.case_id, earlier)
    ctx.fraud.cases.upsert(CID, "current", current)
    ctx.suspended.append(SimpleNamespace(reason="fraud", case_id=current.case.case_id, verified_at=T0, label="plan/e1",
                                         suspended_at=T0 + timedelta(minutes=9), suspended_by="csp-guard:fraud"))
    status, body = _call(fraud_case, customer_id=CID.upper())
    assert status == 200 and body["earlier_cases"] == [earlier.case.case_id]
    assert body["case"]["suspended"] == ["plan/e1"] and body["response_time_minutes"] == 9.0
    assert ctx.fraud.current(CID).case.suspended == ("plan/e1",)  # recorded on the case, not only shown
    assert _call(fraud_case, customer_id=OTHER) == (404, {"error": f"no fraud case for customer {OTHER}"})


def test_resolving_and_noting_answer_with_the_case_and_refuse_what_its_state_does_not_allow(
        ctx: SimpleNamespace) -> None:
    from functions.fraud import fraud_note, fraud_resolve

    ctx.fraud.cases.upsert(CID, "current", CaseRecord(case=_case(CID, T0)))
    status, noted = _call(fraud_note, "POST", {"text": "customer called back"}, customer_id=CID)
    assert status == 201 and noted["case"]["timeline"][-1]["text"] == "customer called back"
    status, body = _call(fraud_resolve, "POST", {"label": "fraud", "note": "confirmed"}, customer_id=CID)
    assert status == 200 and body["case"]["status"] == "resolved_fraud" and body["reactivation"] is None
    assert "within_guidance" in body and [e.action for e in ctx.audit.items] == ["fraud.resolve"]
    assert _call(fraud_resolve, "POST", {"label": "fraud"}, customer_id=CID) == (
        409, {"error": f"case {body['case']['case_id']} is already resolved_fraud"})
    assert _call(fraud_note, "POST", {"text": "x"}, customer_id=OTHER) == (
        404, {"error": f"no fraud case for customer {OTHER}"})


def test_a_scan_run_is_read_through_its_use_case(ctx: SimpleNamespace) -> None:
    from functions.fraud import fraud_scan_run
    from shared.services.fraud.store import FraudScanRun

    run = FraudScanRun(run_id="fraud-1", started_at=T0, requested_by="ops@partner")
    ctx.fraud.runs.put("fraud-1", "fraudscan", run)
    assert _call(fraud_scan_run, run_id="fraud-1") == (200, run.model_dump(mode="json"))
    assert _call(fraud_scan_run, run_id="nope") == (404, {"error": "no such fraud scan run"})
