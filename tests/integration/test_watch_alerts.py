"""Issue 14: the holiday data running out and a payment feed gone silent while nothing is due reach the team
(an alert from the daily sweep, delivered by e-mail) and /api/health's report, against a real Azurite and
SMTP mailbox."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from devtools.azurite import Azurite
from devtools.mailbox import Mailbox
from shared import clock
from shared.collections.calendar import official_china_years
from shared.context import AppContext
from shared.domain import InvoiceIssued
from shared.health import check_health
from shared.messaging import Queue, decode_envelope
from shared.services.messages import CollectionsNotice
from shared.services.notices import deliver
from shared.services.payments import record_event
from shared.services.sweep import start_sweep
from shared.settings import load_settings
from tests.conftest import own_azurite  # noqa: F401  (this module's own storage)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
CID = "00000000-0000-4000-8000-00000000feed"




@pytest.fixture
def env(azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[AppContext, Mailbox]]:
    mailbox = Mailbox(port=0).start()
    values = {"AzureWebJobsStorage": azurite.connection_string,
              "CSPGUARD_POLICY_FILE": str(ROOT / "config" / "collections-policy.yaml"),
              "CSPGUARD_POLICY_ARCHIVE_DIR": str(tmp_path / "archive"), "CSPGUARD_SMTP_HOST": "127.0.0.1",
              "CSPGUARD_SMTP_PORT": str(mailbox.port), "CSPGUARD_COLLECTIONS_CONTACT": "collections@partner.example",
              "CSPGUARD_PARTNER_NAME": "Example CSP Partner"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    try:
        yield AppContext(load_settings()), mailbox
    finally:
        mailbox.stop()


def _alerts(conn: str) -> list[CollectionsNotice]:
    client = QueueClient.from_connection_string(conn, Queue.NOTIFICATIONS.value)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    out = []
    for m in client.receive_messages(messages_per_page=32, max_messages=200):
        notice = CollectionsNotice.model_validate(decode_envelope(base64.b64decode(m.content)).payload)
        client.delete_message(m)
        if notice.template == "team_alert":
            out.append(notice)
    return out


def test_a_silent_feed_and_ending_holiday_data_alert_the_team_and_show_in_health(
        env: tuple[AppContext, Mailbox], azurite: Azurite) -> None:
    ctx, mailbox = env
    horizon = date(official_china_years()[1] + 1, 1, 1)
    last_event = datetime.combine(horizon - timedelta(days=25), datetime.min.time(), tzinfo=UTC)
    record_event(ctx.stores, InvoiceIssued(
        event_id="feed-1", customer_id=CID, occurred_at=last_event, invoice_id="F1", amount="10.00", currency="CNY",
        issue_date=last_event.date(), due_date=last_event.date() + timedelta(days=60)), last_event)  # nothing due
    now = last_event + timedelta(hours=40)  # past the 36 h limit; 23 days before the horizon in Beijing

    start_sweep(ctx, now=now)
    alerts = {a.stage_id: a for a in _alerts(azurite.connection_string)}
    assert set(alerts) == {"calendar-ending", "payment-feed-silent"}
    assert horizon.isoformat() in alerts["calendar-ending"].reason
    assert "40.0 h" in alerts["payment-feed-silent"].reason and alerts["payment-feed-silent"].customer_id == "*"

    for alert in alerts.values():  # a portfolio alert has no ledger of its own and still reaches the team
        assert asyncio.run(deliver(ctx, alert, now=now)) == "sent"
    subjects = {str(m["Subject"]) for m in mailbox.messages() if "collections@partner.example" in str(m["To"])}
    assert any("holiday data is about to run out" in s for s in subjects), subjects
    assert any("payment feed is silent" in s for s in subjects), subjects

    start_sweep(ctx, now=now + timedelta(hours=1))  # the same episode: queued again, delivered at most once
    again = _alerts(azurite.connection_string)
    assert {a.key for a in again} == {a.key for a in alerts.values()}
    assert all(asyncio.run(deliver(ctx, a, now=now)) == "duplicate" for a in again)

    previous = clock.use(type("Fixed", (), {"now": lambda self: now})())
    try:
        report = check_health()
    finally:
        clock.use(previous)
    assert report["calendar"]["days_left"] == 23 and report["calendar"]["warning"]
    assert report["payment_feed"]["silent"] and report["payment_feed"]["silent_hours"] == 40.0
    assert len(report["warnings"]) == 2
    assert not [p for p in report["problems"] if "holiday" in p or "payment feed" in p], report["problems"]
