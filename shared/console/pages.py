"""The console's pages: each reads the JSON HTTP API (through ``fetch``, so the same authorization and the same
answers as any other client) and renders it with Jinja2; every action on a page is a ``fetch()`` from the
browser to the same JSON API. No build step, no front-end dependency."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shared.auth import Permission, Principal
from shared.console.i18n import Lang, translate

PAGE_SIZE = 25
Fetch = Callable[[str, str, dict[str, str]], tuple[int, Any]]  # (method, route, query) -> (status, JSON)
# every template is HTML (``*.html.j2``): escape everything, so a customer name, a reason or a dead letter's body
# sent by anyone who can write to a queue can never run script in an operator's session
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


class ApiError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Page:
    principal: Principal
    lang: Lang
    path: str  # the page's own path, for the language switch and paging links
    fetch: Fetch
    page: int = 1

    def get(self, route: str, **query: str) -> Any:
        status, body = self.fetch("GET", route, query)
        if status >= 400:
            raise ApiError(status, body)
        return body

    def render(self, template: str, title: str, **data: Any) -> str:
        p = self.principal
        return _env.get_template(template).render(
            t=lambda key: translate(key, self.lang), lang=self.lang, title=translate(title, self.lang),
            principal=p, can_act=p.can(Permission.ACT), can_decide=p.can(Permission.DECIDE), path=self.path,
            other_lang="en" if self.lang == "zh-CN" else "zh-CN", quote=quote, page_no=self.page,
            short=_short, pretty=_pretty, **data)


def _short(value: Any) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM`` (UTC); anything else as text."""
    text = "" if value is None else str(value)
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def paged(items: list[Any], page: int, size: int = PAGE_SIZE) -> dict[str, Any]:
    pages = max(1, -(-len(items) // size))
    page = min(max(page, 1), pages)
    return {"items": items[(page - 1) * size:page * size], "page": page, "pages": pages, "total": len(items)}


def ageing_chart(ageing: dict[str, dict[str, str]], buckets: list[str]) -> list[dict[str, Any]]:
    """Per currency: bar heights (0-100, relative to the largest bucket of that currency) and the amounts as
    given (strings; the chart's scale is the only place a ratio is computed, with Decimal)."""
    from decimal import Decimal

    out = []
    for currency, row in ageing.items():
        amounts = {b: Decimal(row.get(b, "0")) for b in buckets}
        top = max(amounts.values()) or Decimal(1)
        out.append({"currency": currency, "bars": [
            {"bucket": b, "amount": row.get(b, "0"), "height": int(amounts[b] * 100 / top)} for b in buckets]})
    return out


def portfolio(page: Page) -> str:
    data = page.get("collections/portfolio", page=str(page.page), page_size=str(PAGE_SIZE))
    return page.render("portfolio.html.j2", "portfolio", data=data,
                       chart=ageing_chart(data["ageing"], data["buckets"]))


def approvals(page: Page) -> str:
    pending = page.get("approvals", status="pending")["items"]
    decided = sorted(page.get("approvals", status="decided")["items"], key=lambda a: a.get("decided_at") or "",
                     reverse=True)
    return page.render("approvals.html.j2", "approvals", pending=pending, decided=paged(decided, page.page))


def customer(page: Page, customer_id: str) -> str:
    status = page.get(f"customers/{customer_id}/status")
    timeline = [{"at": e["at"], "what": e["action"], "who": e["actor"], "detail": e["reason"],
                 "outcome": e.get("outcome", ""), "evidence": e.get("evidence") or {}} for e in status["history"]]
    fraud_status, _ = page.fetch("GET", f"fraud/cases/{customer_id}", {})
    return page.render("customer.html.j2", "customer", c=status, timeline=paged(timeline, page.page),
                       has_fraud_case=fraud_status == 200)


def fraud_cases(page: Page) -> str:
    items = page.get("fraud/cases", status="all")["items"]
    return page.render("fraud_list.html.j2", "fraud", cases=paged(items, page.page))


def fraud_case(page: Page, customer_id: str) -> str:
    return page.render("fraud_case.html.j2", "fraud", rec=page.get(f"fraud/cases/{customer_id}"))


def messages(page: Page) -> str:
    items = page.get("dead-letters")["items"]
    return page.render("messages.html.j2", "messages", letters=paged(items, page.page))


def policy(page: Page) -> str:
    return page.render("policy.html.j2", "policy", doc=page.get("collections/policy", language=page.lang))


def forecast(page: Page, available: bool) -> str:
    data = page.get("collections/forecast") if available else None
    rows = data.get("items") if isinstance(data, dict) and isinstance(data.get("items"), list) else None
    columns = sorted({k for r in rows or [] if isinstance(r, dict) for k in r}) if rows else []
    return page.render("forecast.html.j2", "forecast", data=data, rows=paged(rows or [], page.page),
                       columns=columns)
