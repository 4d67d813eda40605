"""``cspguard preview | diff-policy | import-ar | policy-doc | status`` as a user runs them."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from azure.storage.queue import QueueServiceClient
from typer.testing import CliRunner

from cli import collections
from cli.main import app
from shared.context import AppContext
from shared.domain import CustomerUpdated, InvoiceIssued
from shared.messaging import Queue, decode_envelope
from shared.services.payments import record_event

from .conftest import POLICY, ROOT

pytestmark = pytest.mark.integration
runner = CliRunner()
AT = "2026-01-20"  # 19 days after the due date below: final-notice territory under the shipped policy


def seed(ctx: AppContext, customer: str, amount: str = "5000.00", due: date = date(2026, 1, 1)) -> None:
    now = datetime(2025, 12, 1, tzinfo=UTC)
    record_event(ctx.stores, CustomerUpdated(event_id=f"{customer}-p", customer_id=customer, occurred_at=now,
                                             name="Acme 北京", contact_email="ar@acme.example.cn"), now)
    record_event(ctx.stores, InvoiceIssued(event_id=f"{customer}-i", customer_id=customer, occurred_at=now,
                                           invoice_id=f"{customer}-INV1", amount=Decimal(amount), currency="CNY",
                                           issue_date=date(2025, 12, 1), due_date=due), now)


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_preview_json_shows_what_a_sweep_would_do_at_a_date(app_env: AppContext, customer_id: str) -> None:
    paying = str(uuid.uuid4())
    seed(app_env, customer_id)
    seed(app_env, paying, due=date(2026, 6, 1))
    code, out, _ = run("preview", "--at", AT, "--json")
    assert code == 0
    rows = {r["customer_id"]: r for r in json.loads(out)}
    mine = rows[customer_id]
    assert mine["stage"] == "final_notice"
    assert mine["days_past_due"] == 19
    assert mine["overdue"] == {"CNY": "5000.00"}
    assert "notify_customer:final_notice" in mine["actions"]
    assert paying not in rows  # nothing to do: left out without --all
    code, out, _ = run("preview", "--at", AT, "--json", "--all")
    assert paying in {r["customer_id"] for r in json.loads(out)}


def test_preview_table(app_env: AppContext, customer_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collections.out, "width", 200)  # a wide terminal: one line per customer
    seed(app_env, customer_id)
    code, out, _ = run("preview", "--at", AT)
    assert code == 0
    line = next(x for x in out.splitlines() if customer_id in x)
    assert "final_notice" in line and "5000.00 CNY" in line and "19" in line


def test_diff_policy_shows_customers_whose_decision_changes(app_env: AppContext, customer_id: str,
                                                           tmp_path: Path) -> None:
    seed(app_env, customer_id)
    policy = yaml.safe_load(POLICY.read_text(encoding="utf-8"))
    for stage in policy["stages"]:
        if stage["id"] == "final_notice":
            stage["trigger"]["days_past_due"] = 25
    policy["version"] = "draft-later-final-notice"
    new = tmp_path / "new.yaml"
    new.write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    code, out, _ = run("diff-policy", str(POLICY), str(new), "--at", AT, "--json")
    assert code == 0
    change = next(c for c in json.loads(out) if c["customer_id"] == customer_id)
    assert (change["old_stage"], change["new_stage"]) == ("final_notice", "overdue")
    assert change["severity_delta"] < 0
    assert "notify_customer:final_notice" in change["actions_removed"]


def test_diff_policy_reports_an_invalid_policy_without_a_traceback(app_env: AppContext, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\nstages: 3\n", encoding="utf-8")
    code, out, err = run("diff-policy", str(POLICY), str(bad))
    assert code == 1
    assert "bad.yaml" in err and "Traceback" not in err + out


def test_status_shows_ledger_and_decision(app_env: AppContext, customer_id: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collections.out, "width", 200)
    seed(app_env, customer_id)
    code, out, _ = run("status", customer_id, "--at", AT, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["profile"]["name"] == "Acme 北京"
    assert [i["invoice_id"] for i in data["invoices"]] == [f"{customer_id}-INV1"]
    assert data["decision"]["stage"] == "final_notice"
    assert data["decision"]["reasons"]
    code, out, _ = run("status", customer_id, "--at", AT)
    assert code == 0 and f"{customer_id}-INV1" in out and "final_notice" in out


def test_status_of_an_unknown_customer_is_one_clear_line(app_env: AppContext, customer_id: str) -> None:
    code, _, err = run("status", customer_id)
    assert code == 1
    assert f"customer {customer_id} has no ledger" in err and "Traceback" not in err


def test_import_ar_queues_events_once_and_refuses_invalid_files(app_env: AppContext, customer_id: str,
                                                               tmp_path: Path, azurite: object) -> None:
    good = tmp_path / "ar.csv"
    good.write_text("customer_id,invoice_id,issue_date,due_date,amount,currency,paid_amount\n"
                    f"{customer_id},A1,2026-01-01,2026-01-31,100.00,CNY,25.50\n", encoding="utf-8")
    code, out, _ = run("import-ar", str(good), "--dry-run", "--json")
    assert code == 0 and json.loads(out)["queued"] == 0
    code, out, _ = run("import-ar", str(good), "--source", "erp-test", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["queued"] == summary["events"] == 4  # issued, amount, payment, dispute state

    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,invoice_id,issue_date,due_date,amount,currency\n"
                   f"{customer_id},A2,2026-01-01,2026-01-31,12.5.0,CNY\n", encoding="utf-8")
    code, _, err = run("import-ar", str(bad))
    assert code == 1
    assert f"{bad}:2: amount:" in err and "nothing was imported" in err

    queue = QueueServiceClient.from_connection_string(app_env.settings.storage_connection.get_secret_value()
                                                      ).get_queue_client(Queue.PAYMENT_EVENTS)
    mine = [decode_envelope(base64.b64decode(m.content)) for m in queue.peek_messages(max_messages=32)]
    mine = [e for e in mine if e.payload.get("customer_id") == customer_id]
    assert len(mine) == 4 and {e.source for e in mine} == {"erp-test"}


def test_policy_doc_renders_both_languages(tmp_path: Path) -> None:
    code, out, _ = run("policy-doc", "--policy", str(POLICY))
    assert code == 0 and "2026-11-v1" in out
    target = tmp_path / "policy.zh-CN.md"
    code, _, _ = run("policy-doc", "--policy", str(POLICY), "--language", "zh-CN", "--out", str(target))
    assert code == 0 and "收款政策" in target.read_text(encoding="utf-8")
    code, _, err = run("policy-doc", "--policy", str(POLICY), "--language", "fr")
    assert code == 1 and "fr" in err
    assert (ROOT / "config").is_dir()


def test_import_ar_normalises_tenant_ids_and_refuses_bad_ids_dates_and_amounts(app_env: AppContext, customer_id: str,
                                                                               tmp_path: Path) -> None:
    """Issue 14: an upper-case tenant id must land on the customer's one ledger; what is not a tenant id, a
    date outside the window or money finer than the currency's unit is refused with its line."""
    upper = tmp_path / "upper.csv"
    upper.write_text("customer_id,invoice_id,issue_date,due_date,amount,currency\n"
                     f"{customer_id.upper()},U1,2026-01-01,2026-01-31,100.00,CNY\n", encoding="utf-8")
    code, out, _ = run("import-ar", str(upper), "--json")
    assert code == 0 and json.loads(out)["queued"] == 3
    queue = QueueServiceClient.from_connection_string(app_env.settings.storage_connection.get_secret_value()
                                                      ).get_queue_client(Queue.PAYMENT_EVENTS)
    ids = {decode_envelope(base64.b64decode(m.content)).payload.get("customer_id")
           for m in queue.peek_messages(max_messages=32)}
    assert customer_id in ids and customer_id.upper() not in ids

    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,invoice_id,issue_date,due_date,amount,currency\n"
                   "..,B1,2026-01-01,2026-01-31,1.00,CNY\n"
                   "c1,B2,2026-01-01,2026-01-31,1.00,CNY\n"
                   f"{customer_id},B3,2026-01-01,9999-12-31,1.00,CNY\n"
                   f"{customer_id},B4,2026-01-01,2026-01-31,1.005,CNY\n"
                   f"{customer_id},B5,2026-01-01,2026-01-31,１.00,CNY\n"
                   f"{customer_id},B6,2026-01-01,2026-01-31,1.5,JPY\n", encoding="utf-8")
    code, _, err = run("import-ar", str(bad))
    assert code == 1 and "nothing was imported" in err
    for line, column in [(2, "customer_id"), (3, "customer_id"), (4, "due_date"), (5, "amount"), (6, "amount"),
                         (7, "amount")]:
        assert f"{bad}:{line}: {column}:" in err, (line, err)
    assert "tenant" in err and "2099-12-31" in err and "smallest unit" in err


def test_preview_status_and_diff_report_an_unevaluable_customer_and_show_the_rest(app_env: AppContext,
                                                                                  customer_id: str) -> None:
    """Issue 14: data stored before the ingress refused it (a hold until 9999-12-31) breaks only its customer."""
    from shared.collections import CustomerLedger, apply_event
    from shared.domain import PaymentInTransit

    legacy = str(uuid.uuid4())
    seed(app_env, customer_id)
    seed(app_env, legacy)
    hold = PaymentInTransit.model_construct(type="payment.in_transit", event_id=f"{legacy}-h", customer_id=legacy,
                                            reference="TT", hold_until=date.max, amount=None, currency=None,
                                            occurred_at=datetime(2025, 12, 1, tzinfo=UTC))

    def add(ledger: CustomerLedger | None) -> CustomerLedger:
        assert ledger is not None
        return apply_event(ledger, hold)

    app_env.stores.ledgers.update(legacy, "ledger", add)
    code, out, err = run("preview", "--at", AT, "--json")
    assert code == 0 and f"cannot evaluate customer {legacy}: OverflowError" in err
    rows = {r["customer_id"] for r in json.loads(out)}
    assert customer_id in rows and legacy not in rows
    code, out, err = run("diff-policy", str(POLICY), str(POLICY), "--at", AT, "--json")
    assert code == 0 and legacy in err
    code, out, _ = run("status", legacy.upper(), "--at", AT, "--json")
    assert code == 0 and "OverflowError" in json.loads(out)["evaluation_error"]
    code, _, err = run("status", "not-a-tenant", "--json")
    assert code == 1 and "tenant" in err
    app_env.stores.ledgers.delete(legacy, "ledger")  # the session's tables are shared
