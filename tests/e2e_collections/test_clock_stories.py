"""Collections over weeks, through the public interfaces only, with the local time machine instead of storage
edits: the app, the runner's timers and the sandbox move together (POST /api/clock), the sweep runs on its own
timer at its scheduled hour, and a billing system posts its daily export to /api/payment-events.

One stack for the module; the clock only moves forward, so each story aligns the clock to just before the
next 01:00 UTC sweep and then moves one day at a time. The calendar is the override file the partner keeps
(``CSPGUARD_CALENDAR_OVERRIDES_FILE``): every day of the horizon is a working day unless a story declares a
holiday, so no story depends on the date it runs on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from devtools.polling import wait_until
from devtools.runner import DEFAULT_KEYS
from devtools.sandbox.inspect import add_customer, subscription_status
from devtools.stack import Stack, StackConfig
from devtools.stack.config import REPO

pytestmark = pytest.mark.e2e
HERE = Path(__file__).parent
SH = ZoneInfo("Asia/Shanghai")
TEAM = "collections@partner.example"
AZURE_PLAN = "DZH318Z0BPS6"


@dataclass
class Story:
    stack: Stack
    overrides: Path
    feed_count: int = 0
    _before: str | None = None

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.stack.app_url}/api", timeout=30,
                            headers={"x-functions-key": DEFAULT_KEYS.function, "x-actor": "ops@partner.example"})

    def sandbox_admin(self) -> httpx.Client:
        return self.stack.sandbox_admin()

    def now(self) -> datetime:
        with self.api() as api:
            return datetime.fromisoformat(api.get("/clock").json()["now"])

    def today(self) -> date:
        return self.now().astimezone(SH).date()

    def post(self, *events: dict[str, Any]) -> None:
        with self.api() as api:
            r = api.post("/payment-events", json=list(events))
            assert r.status_code == 202, r.text

    def event(self, kind: str, cid: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "event_id": f"{kind}-{uuid.uuid4().hex[:10]}", "customer_id": cid,
                "occurred_at": self.now().isoformat(), **fields}

    def feed(self) -> None:
        """The billing system's daily export arrives (keeps the payment feed fresh), and is recorded."""
        self.feed_count += 1
        name = f"Feed heartbeat {self.feed_count}"
        self.post(self.event("customer.updated", FEED_CUSTOMER, name=name, contact_email="feed@partner.example"))
        with self.api() as api:
            wait_until(lambda: (lambda r: r.status_code == 200 and r.json()["profile"]["name"] == name)(
                api.get(f"/customers/{FEED_CUSTOMER}/status")), what="feed event recorded")

    def latest_run(self) -> dict[str, Any] | None:
        with self.api() as api:
            items = api.get("/collections/runs", params={"limit": 1}).json()["items"]
        return items[0] if items else None

    def _sweep_after(self, previous: str | None) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            run = self.latest_run()
            return run if run and run["run_id"] != previous and run["status"] != "running" else None

        return wait_until(done, what="the timer's sweep to finish", timeout=60)

    def align(self) -> None:
        """Move to 30 s before the next 01:00 UTC sweep (day 0 of a story): the story sets up its customers,
        then ``day_zero`` lets the timer run that sweep on schedule (not past due)."""
        now = self.now()
        target = datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC).replace(hour=0, minute=59, second=30)
        while target < now + timedelta(minutes=1):
            target += timedelta(days=1)
        self._before = (self.latest_run() or {}).get("run_id")
        with self.api() as api:
            assert api.post("/clock", json={"set": target.isoformat()}).status_code == 200

    def day_zero(self) -> dict[str, Any]:
        return self._sweep_after(self._before)

    def next_day(self, feed: bool = True) -> dict[str, Any]:
        """A day passes: the export arrives (unless the feed is silent), the clock moves 1 day, the timer's
        sweep (one past-due run for the skipped occurrence) finishes."""
        if feed:
            self.feed()
        previous = (self.latest_run() or {}).get("run_id")
        with self.api() as api:
            assert api.post("/clock", json={"advance": "1d"}).status_code == 200
        return self._sweep_after(previous)

    def overdue_customer(self, name: str, days: int = 25, amount: str = "5000.00") -> tuple[str, str]:
        """A customer with an Azure plan (in the first suspension's scope), one invoice ``days`` past due."""
        created = add_customer(self, name, [{"kind": "azure_plan", "friendly_name": "Azure plan"},
                                            {"kind": "license", "friendly_name": "Office 365 E3"}])
        cid = created["id"]
        plan = next(s["id"] for s in created["subscriptions"] if s["offerId"].startswith(AZURE_PLAN))
        today = self.today()
        email = f"ap@{cid[:8]}.example"
        self.post(self.event("customer.updated", cid, name=name, contact_email=email, language="en"),
                  self.event("invoice.issued", cid, invoice_id=f"INV-{cid[:6]}", amount=amount, currency="CNY",
                             issue_date=(today - timedelta(days=days + 30)).isoformat(),
                             due_date=(today - timedelta(days=days)).isoformat()))
        wait_until(lambda: self.mail(email, "Final notice"), what=f"final notice to {name}")
        return cid, plan

    def mail(self, address: str, subject: str) -> list[Any]:
        mailbox = self.stack.mailbox
        assert mailbox is not None
        return [m for m in mailbox.messages()
                if address in str(m["To"]) and subject.lower() in str(m["Subject"]).lower()]

    def team_mail_containing(self, text: str) -> list[Any]:
        mailbox = self.stack.mailbox
        assert mailbox is not None
        return [m for m in mailbox.messages() if TEAM in str(m["To"])
                and text in m.get_body(("plain",)).get_content()]

    def status(self, cid: str) -> dict[str, Any]:
        with self.api() as api:
            return api.get(f"/customers/{cid}/status").json()  # type: ignore[no-any-return]

    def plan_status(self, cid: str, plan: str) -> str:
        return subscription_status(self, cid)[plan]

    def forecast_day(self, cid: str, days: int = 12) -> date | None:
        with self.api() as api:
            found = api.get("/collections/forecast", params={"days": days}).json()
        return next((date.fromisoformat(d["date"]) for d in found["days"]
                     if cid in [i["customer_id"] for i in d["suspended"]]), None)

    def set_calendar(self, holidays: tuple[date, ...] = ()) -> None:
        """The partner's calendar override file: every day of the horizon a working day, but ``holidays``."""
        start = datetime.now(UTC).date() - timedelta(days=5)
        days = {start + timedelta(days=i) for i in range(200)}
        doc = {"holidays": sorted(holidays), "workdays": sorted(days - set(holidays)),
               "confirmed_years": sorted({d.year for d in days})}
        self.overrides.write_text(yaml.safe_dump(doc, default_flow_style=True), encoding="utf-8")


FEED_CUSTOMER = "00000000-0000-4000-8000-00000000feed"  # ids are tenant GUIDs at the ingress


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    overrides = tmp_path_factory.mktemp("calendar") / "calendar-overrides.yaml"
    config = StackConfig(free_ports=True, customers=2, settings_file=REPO / "local.settings.example.json",
                         enable_timers=True, extra_settings={
                             "CSPGUARD_POLICY_FILE": str(HERE / "policy-clock.yaml"),
                             "CSPGUARD_POLICY_ARCHIVE_DIR": str(HERE / "no-archive"),
                             "CSPGUARD_CALENDAR_OVERRIDES_FILE": str(overrides),
                             "CSPGUARD_MAX_SUSPENSIONS_PER_RUN": "3", "CSPGUARD_MAX_SUSPENSION_SHARE": "1.0",
                             "CSPGUARD_COLLECTIONS_CONTACT": TEAM, "SWEEP_SCHEDULE": "0 0 1 * * *",
                             "FRAUD_SCAN_SCHEDULE": "0 15 * * * *"})
    with Stack(config) as stack:
        s = Story(stack, overrides)
        s.set_calendar()
        s.feed()
        yield s


def test_the_full_notice_period_passes_and_the_sweep_suspends_on_the_forecast_day(story: Story) -> None:
    story.align()
    cid, plan = story.overdue_customer("Notice Period Ltd")  # 25 days past due: the final notice goes out
    sent_on = story.today()
    predicted = story.forecast_day(cid)
    assert predicted == sent_on + timedelta(days=7)  # 30 days past due on day 5, but 7 days' notice are needed
    story.day_zero()
    for day in range(1, 7):
        story.next_day()
        assert story.plan_status(cid, plan) == "active", f"day {day}: inside the 7 days' notice"
        decision = story.status(cid)["decision"]
        if day >= 5:  # 30 days past due: the suspension stage applies, its notice period has not passed
            assert decision["stage"] == "suspend_usage", decision
            assert "notice_too_recent" in [r["code"] for r in decision["blocked_by"]]
    run = story.next_day()
    assert run["customers_to_suspend"] == 1 and run["status"] == "completed"
    wait_until(lambda: story.plan_status(cid, plan) == "suspended", what="plan suspended")
    assert story.today() == predicted
    wait_until(lambda: story.mail(f"ap@{cid[:8]}.example", "suspended"), what="suspension e-mail")
    history = story.status(cid)["history"]
    assert [e["outcome"] for e in history if e["action"] == "suspend"] == ["done"]


def test_a_silent_payment_feed_refuses_the_due_suspension_alerts_the_team_and_warns_in_health(story: Story) -> None:
    story.align()
    cid, plan = story.overdue_customer("Silent Feed Co")
    story.day_zero()
    for _ in range(5):
        story.next_day()
    story.next_day(feed=False)
    run = story.next_day(feed=False)  # due today; the last payment event is about 2 days old (limit 36 h)
    assert run["customers_to_suspend"] == 1
    audit = wait_until(lambda: [e for e in story.status(cid)["history"] if e["action"] == "suspend"],
                       what="refused suspension audited")
    assert audit[0]["outcome"] == "blocked" and "payment feed silent" in audit[0]["evidence"]["detail"]
    wait_until(lambda: story.mail(TEAM, "Silent Feed Co"), what="team alert")
    health = httpx.get(f"{story.stack.app_url}/api/health", timeout=30).json()
    # a warning, not a problem: a non-2xx health check would take every instance out of rotation
    assert any("payment feed silent" in p for p in health["warnings"]), health
    assert story.plan_status(cid, plan) == "active"
    story.next_day()  # the export arrives again: the next sweep suspends on fresh data
    wait_until(lambda: story.plan_status(cid, plan) == "suspended", what="suspended on fresh data")
    health = httpx.get(f"{story.stack.app_url}/api/health", timeout=30).json()
    assert not any("payment feed silent" in p for p in health["warnings"] + health["problems"])


def test_blast_radius_halts_and_a_payment_before_the_approved_run_means_no_patch(story: Story) -> None:
    """Four customers due in one run (limit 3): the run halts, the team is told, nothing is suspended. One
    customer pays while the planned suspension waits; on approval the worker re-checks on fresh data and sends
    no PATCH for that customer (the documented behaviour: no PATCH, rather than suspend-then-reactivate)."""
    story.align()
    customers = [story.overdue_customer(f"Blast {i} Ltd") for i in range(4)]
    story.day_zero()
    for _ in range(6):
        story.next_day()
    run = story.next_day()
    assert run["status"] == "halted" and run["customers_to_suspend"] == 4, run
    wait_until(lambda: story.team_mail_containing("would suspend 4"), what="halt alert")
    assert all(story.plan_status(c, p) == "active" for c, p in customers)
    payer, payer_plan = customers[3]
    with story.sandbox_admin() as admin:
        mark = admin.get("/_sandbox/calls", params={"since": 0}).json()["last"]
    story.post(story.event("payment.received", payer, payment_id="PAY-BLAST", amount="5000.00", currency="CNY",
                           received_at=story.now().isoformat()))
    wait_until(lambda: story.status(payer)["case"] is None, what="payment closes the case")
    with story.api() as api:
        key = f"run:{run['run_id']}"
        assert key in [a["key"] for a in api.get("/approvals").json()["items"]]
        decided = api.post("/approvals/decide", json={"key": key, "decision": "approve", "note": "checked"})
        assert decided.status_code == 200, decided.text
    for cid, plan in customers[:3]:
        wait_until(lambda c=cid, p=plan: story.plan_status(c, p) == "suspended", what=f"{cid} suspended")
    skipped = wait_until(lambda: [e for e in story.status(payer)["history"] if e["action"] == "suspend"],
                         what="the payer's planned suspension audited")
    assert skipped[0]["outcome"] == "skipped" and "no longer due" in skipped[0]["evidence"]["detail"]
    assert story.plan_status(payer, payer_plan) == "active"
    with story.sandbox_admin() as admin:
        calls = admin.get("/_sandbox/calls", params={"since": mark}).json()["calls"]
    assert not [c for c in calls if c["method"] == "PATCH" and payer in c["path"]]


def test_a_broken_promise_lets_the_suspension_through_after_its_grace(story: Story) -> None:
    story.align()
    cid, plan = story.overdue_customer("Promise Breaker Co")
    promised = story.today() + timedelta(days=6)  # grace 2 days: holds until day 8 inclusive
    with story.api() as api:
        r = api.post(f"/customers/{cid}/overrides/promise",
                     json={"amount": {"amount": "5000.00", "currency": "CNY"}, "promised_date": promised.isoformat()})
        assert r.status_code == 201, r.text
    story.day_zero()
    for day in range(1, 9):
        story.next_day()
        assert story.plan_status(cid, plan) == "active", f"day {day}: promise pending"
    assert "promise_to_pay" in [r["code"] for r in story.status(cid)["decision"]["blocked_by"]]
    story.next_day()
    wait_until(lambda: story.plan_status(cid, plan) == "suspended", what="suspended after the broken promise")
    assert "promise_broken" in [r["code"] for r in story.status(cid)["decision"]["reasons"]]


def test_a_holiday_inside_the_notice_period_moves_the_suspension_to_the_next_working_day(story: Story) -> None:
    story.align()
    cid, plan = story.overdue_customer("Holiday Season Co")
    start = story.today()
    holidays = (start + timedelta(days=6), start + timedelta(days=7))  # the notice period ends on a holiday
    story.set_calendar(holidays)
    assert story.forecast_day(cid) == start + timedelta(days=8)
    story.day_zero()
    for _ in range(7):
        story.next_day()
    assert story.plan_status(cid, plan) == "active"
    assert "holiday" in [r["code"] for r in story.status(cid)["decision"]["blocked_by"]]
    story.next_day()
    wait_until(lambda: story.plan_status(cid, plan) == "suspended", what="suspended on the first working day")
    assert story.today() == start + timedelta(days=8)
    story.set_calendar()
