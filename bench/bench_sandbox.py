"""Sandbox figures: portfolio generation, usage streaming in process, and pages over HTTPS."""

from __future__ import annotations

import time
import tracemalloc
from datetime import date

import httpx

from devtools.sandbox import Sandbox, SandboxConfig, generate_portfolio


def main() -> None:
    t = time.perf_counter()
    p = generate_portfolio(1, 20_000, (2, 3), days=90, start=date(2025, 1, 1))
    gen = time.perf_counter() - t
    tracemalloc.start()  # a second, slower run only to measure memory
    generate_portfolio(1, 20_000, (2, 3), days=90, start=date(2025, 1, 1))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"generate 20,000 customers ({len(p.subscriptions)} subscriptions): {gen:.2f} s, "
        f"peak {peak / 2**20:.0f} MiB"
    )

    t, n, cursor = time.perf_counter(), 0, None
    for _ in range(50):
        items, cursor = p.usage_page(cursor, 2000)
        n += len(items)
    dt = time.perf_counter() - t
    print(f"usage in process: {n} items in {dt:.2f} s = {n / dt:,.0f} items/s (pages of 2000)")

    with (
        Sandbox(SandboxConfig(customers=2000, usage_days=30)).start() as sb,
        httpx.Client(base_url=sb.base_url, verify=sb.ssl_context()) as c,
    ):
        tok = c.post(
            f"/{sb.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": sb.client_id,
                "client_secret": sb.client_secret,
                "scope": sb.scope,
            },
        ).json()["access_token"]
        c.headers["Authorization"] = f"Bearer {tok}"
        t, pages, items_n = time.perf_counter(), 0, 0
        r = c.get("/v1/customers?size=100")
        while True:
            body = r.json()
            pages, items_n = pages + 1, items_n + len(body["items"])
            nxt = body["links"].get("next")
            if not nxt:
                break
            uri = nxt["uri"] if nxt["uri"].startswith("/v1") else "/v1" + nxt["uri"]
            r = c.get(uri, headers={h["key"]: h["value"] for h in nxt["headers"]})
        dt = time.perf_counter() - t
        print(f"HTTPS customers: {pages} pages / {items_n} items in {dt:.2f} s = {pages / dt:.0f} pages/s")
        q = (
            "/v1/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=usagelineitems"
            "&currencycode=CNY&period=current&size=2000"
        )
        t, pages, items_n = time.perf_counter(), 0, 0
        r = c.get(q)
        while pages < 10:
            body = r.json()
            pages, items_n = pages + 1, items_n + len(body["items"])
            nxt = body["links"].get("next")
            if not nxt:
                break
            uri = nxt["uri"] if nxt["uri"].startswith("/v1") else "/v1" + nxt["uri"]
            r = c.get(uri, headers={h["key"]: h["value"] for h in nxt["headers"]})
        dt = time.perf_counter() - t
        print(f"HTTPS usage: {pages} pages / {items_n} items in {dt:.2f} s = {items_n / dt:,.0f} items/s")


if __name__ == "__main__":
    main()
