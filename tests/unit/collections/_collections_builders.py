"""Builders for collections tests: events, ledgers, local times, the shipped policy and calendar."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from shared.collections import Calendar, CustomerLedger, apply_events, parse_policy
from shared.domain import PaymentEvent, parse_event

C1 = "00000000-0000-4000-8000-0000000000c1"

ROOT = Path(__file__).resolve().parents[3]
POLICY_PATH = Path(__file__).with_name("policy-fixture.yaml")
POLICY_TEXT = POLICY_PATH.read_text(encoding="utf-8")
POLICY = parse_policy(POLICY_TEXT, str(POLICY_PATH))
CAL = Calendar("CN")
SH = ZoneInfo("Asia/Shanghai")
UTC = UTC
T0 = datetime(2026, 1, 1, tzinfo=UTC)
_ids = itertools.count()


def ev(
    kind: str, cid: str = C1, occurred_at: datetime = T0, event_id: str | None = None, **fields: Any
) -> PaymentEvent:
    data = {"type": kind, "customer_id": cid, "occurred_at": occurred_at.isoformat(), **fields}
    data["event_id"] = event_id or f"{kind}-{next(_ids)}"
    return parse_event({k: (str(v) if isinstance(v, Decimal | date) else v) for k, v in data.items()})


def issued(inv: str, amount: str, due: date, cur: str = "CNY", cid: str = C1, **kw: Any) -> PaymentEvent:
    return ev(
        "invoice.issued",
        cid,
        invoice_id=inv,
        amount=amount,
        currency=cur,
        issue_date=(due - timedelta(days=30)).isoformat(),
        due_date=due.isoformat(),
        **kw,
    )


def paid(
    pid: str, amount: str, at: datetime = T0, inv: str | None = None, cur: str = "CNY", cid: str = C1
) -> PaymentEvent:
    fields: dict[str, Any] = {
        "payment_id": pid,
        "amount": amount,
        "currency": cur,
        "received_at": at.isoformat(),
    }
    if inv is not None:
        fields["invoice_id"] = inv
    return ev("payment.received", cid, **fields)


def ledger(*events: PaymentEvent, cid: str = C1) -> CustomerLedger:
    return apply_events(CustomerLedger.empty(cid), events)


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A Shanghai wall-clock instant (the policy's time zone)."""
    return datetime.combine(date(y, m, d), time(hh, mm), tzinfo=SH)
