"""Pure parts of the console: AR ageing buckets, stage rows, the chart's scale, paging, languages."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

from shared.collections.ledger import CustomerLedger, InvoiceBalance, LedgerSummary
from shared.console.i18n import WORDS, pick_lang, translate
from shared.console.pages import ageing_chart, paged
from shared.services.portfolio import BUCKETS, ageing, bucket

TODAY = date(2026, 12, 1)


def _invoice(n: int, due: date, open_: str, currency: str = "CNY") -> InvoiceBalance:
    amount = Decimal(open_)
    return InvoiceBalance(invoice_id=f"I{n}", currency=currency, issue_date=due, due_date=due, amount=amount,
                          credited=Decimal(0), paid=Decimal(0), written_off=Decimal(0), open=amount,
                          disputed=Decimal(0))


def test_buckets_follow_days_past_due() -> None:
    assert [bucket(d) for d in (-3, 0, 1, 30, 31, 60, 61, 90, 91, 400)] == [
        "current", "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "90+", "90+"]


def test_ageing_sums_open_amounts_per_currency_exactly() -> None:
    ledger = CustomerLedger(customer_id="c", summary=LedgerSummary(invoices=(
        _invoice(1, date(2026, 10, 10), "100.10"), _invoice(2, date(2026, 10, 11), "0.20"),
        _invoice(3, date(2026, 12, 20), "5.00"), _invoice(4, date(2026, 1, 1), "7.00", "USD"),
        _invoice(5, date(2026, 1, 1), "0.00"))))
    result = ageing([ledger], TODAY)
    assert result["CNY"] == {"current": Decimal("5.00"), "1-30": 0, "31-60": Decimal("100.30"), "61-90": 0, "90+": 0}
    assert result["USD"]["90+"] == Decimal("7.00") and list(result["USD"]) == list(BUCKETS)


def test_the_chart_scales_to_the_largest_bucket_and_keeps_the_amounts_as_given() -> None:
    chart = ageing_chart({"CNY": {"current": "50.00", "1-30": "200.00", "31-60": "0", "61-90": "0", "90+": "0"}},
                         list(BUCKETS))
    bars = chart[0]["bars"]
    assert [b["height"] for b in bars] == [25, 100, 0, 0, 0] and bars[1]["amount"] == "200.00"
    assert ageing_chart({"USD": dict.fromkeys(BUCKETS, "0")}, list(BUCKETS))[0]["bars"][0]["height"] == 0


def test_paging_clamps() -> None:
    items = list(range(60))
    assert paged(items, 3, 25) == {"items": list(range(50, 60)), "page": 3, "pages": 3, "total": 60}
    assert paged(items, 9, 25)["page"] == 3 and paged([], 1)["pages"] == 1


def test_every_word_has_both_languages_and_every_template_key_exists() -> None:
    assert all(en and zh for en, zh in WORDS.values())
    templates = Path(__file__).resolve().parents[3] / "shared" / "console" / "templates"
    used = {m for f in templates.glob("*.j2") for m in re.findall(r"\bt\('([a-z_]+)'\)", f.read_text())}
    assert used - set(WORDS) == set()
    assert translate("portfolio", "zh-CN") == "客户组合"


def test_language_choice() -> None:
    assert pick_lang("zh-CN", "en", None) == "zh-CN"
    assert pick_lang(None, "zh-CN", "en-US") == "zh-CN"
    assert pick_lang("xx", None, "zh-CN,zh;q=0.9") == "zh-CN"
    assert pick_lang(None, None, "en-GB") == "en"


def test_pages_escape_what_anyone_could_have_sent() -> None:
    """A dead letter's body, reason or queue comes from whoever wrote to a queue: never markup in the page."""
    from typing import Any

    from shared.auth import Principal, Role
    from shared.console.pages import Page, messages

    hostile = '<img src=x onerror="fetch(\'/api/customers/x/actions/suspend\')">'
    letter = {"id": "L1", "queue": "payment-events", "reason": hostile, "received_at": "2026-12-01T00:00:00Z",
              "body": hostile, "status": "waiting", "size": len(hostile)}

    def fetch(method: str, route: str, query: dict[str, str]) -> tuple[int, Any]:
        return 200, {"items": [letter], "count": 1}

    who = Principal(name="ops", roles=frozenset({Role.OPERATOR}), source="local-signin")
    html = messages(Page(principal=who, lang="en", path="/api/console/messages", fetch=fetch))
    assert "<img" not in html and "&lt;img" in html
