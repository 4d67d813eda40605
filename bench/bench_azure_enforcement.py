"""Benchmark: Azure plan enforcement through the enforcement worker's entry point (``execute``).

Azurite and the Partner Center sandbox (its Azure subscription changes show after a configurable delay, as
Partner Center's lag). N customers, each with an Azure plan carrying K active Azure subscriptions and an Office
licence, get the "suspend usage" scope (every Azure subscription disabled, then the plan suspended), then a
reactivation (plan first, then its Azure subscriptions). Printed: wall time per request (p50 / max), Partner
Center calls per customer, and whether every target was verified. Never asserts on time.
Run: .venv/bin/python bench/bench_azure_enforcement.py [--customers 10] [--azure 5] [--delay 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.azurite import Azurite  # noqa: E402
from devtools.sandbox import Sandbox, SandboxConfig  # noqa: E402
from devtools.sandbox.admin import NewCustomer, add_customer  # noqa: E402
from shared.collections.policy import SuspendScope  # noqa: E402
from shared.context import AppContext  # noqa: E402
from shared.services.enforcement import execute  # noqa: E402
from shared.services.messages import EnforcementRequest  # noqa: E402
from shared.settings import load_settings  # noqa: E402


def _settings(azurite: Azurite, sb: Sandbox) -> dict[str, str]:
    return {"AzureWebJobsStorage": azurite.connection_string, "CSPGUARD_PC_TENANT_ID": sb.tenant_id,
            "CSPGUARD_PC_CLIENT_ID": sb.client_id, "CSPGUARD_PC_CLIENT_SECRET": sb.client_secret,
            "CSPGUARD_PC_BASE_URL": sb.base_url, "CSPGUARD_PC_AUTHORITY_HOST": sb.authority_host,
            "CSPGUARD_PC_CA_BUNDLE": str(sb.ca_pem_path), "CSPGUARD_ENFORCEMENT_ENABLED": "true",
            "CSPGUARD_PC_ENTITLEMENT_POLL_SECONDS": "0.1", "CSPGUARD_PC_RATE_PER_MINUTE": "6000",
            "CSPGUARD_PC_CUSTOMER_RATE_PER_MINUTE": "1000"}


async def run(customers: int, azure: int, delay: float) -> None:
    scope = SuspendScope.model_validate({"kind": "azure_usage", "suspend_plan": True})
    azurite = Azurite.on_free_ports().start()
    try:
        with Sandbox(SandboxConfig(customers=0, entitlement_change_delay_seconds=delay)).start() as sb:
            await _measure(azurite, sb, customers, azure, scope)
    finally:
        azurite.stop()


async def _measure(azurite: Azurite, sb: Sandbox, customers: int, azure: int, scope: SuspendScope) -> None:
    delay = sb.state.config.entitlement_change_delay_seconds
    ctx = AppContext(load_settings(**_settings(azurite, sb)))
    ids = [add_customer(sb.state, NewCustomer.model_validate({
        "company_name": f"Bench {i} Ltd", "subscriptions": [
            {"kind": "azure_plan", "entitlements": ["active"] * azure}, {"kind": "license"}]}))["id"]
        for i in range(customers)]
    for action in ("suspend", "reactivate"):
        walls, verified, calls = [], 0, 0
        for i, cid in enumerate(ids):
            req = EnforcementRequest(action=action, customer_id=cid, reason="manual", key=f"b:{action}:{i}",
                                     detail="bench", requested_at=datetime.now(UTC),
                                     scope=scope if action == "suspend" else None)
            before = sb.state.call_seq
            start = time.perf_counter()
            out = await execute(ctx, req)
            walls.append(time.perf_counter() - start)
            calls += sb.state.call_seq - before
            verified += all(t.verified for t in out.targets) and out.status == "done"
        print(f"{action:<10} {customers} customers x ({azure} Azure subscriptions + plan): "
              f"p50 {statistics.median(walls):.2f} s, max {max(walls):.2f} s per customer; "
              f"{calls / customers:.1f} Partner Center calls per customer; "
              f"{verified}/{customers} fully verified (sandbox delay {delay} s)")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=10)
    p.add_argument("--azure", type=int, default=5)
    p.add_argument("--delay", type=float, default=0.3)
    a = p.parse_args()
    asyncio.run(run(a.customers, a.azure, a.delay))


if __name__ == "__main__":
    main()
