"""A whole local stack for the fraud story: Azurite, the Partner Center sandbox (no generated misuse), the
SMTP mailbox and function_app.py under the local runner, with a rules file chosen per test module."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from devtools.azurite import Azurite
from devtools.mailbox import Mailbox
from devtools.runner import LocalRunner
from devtools.sandbox import Sandbox, SandboxConfig
from shared.services.fraud import FraudStores
from shared.services.state import Stores
from shared.storage.azure import AzureTables
from tests.e2e_collections.conftest import CollectionsStack, add_customer, stack_settings, wait_until

HERE = Path(__file__).parent
SUPPORT = "support@21vianet.example"


def start_stack(azurite: Azurite, rules: str, **extra: str) -> CollectionsStack:
    """The misuse stories send the service request by e-mail (``extra`` may choose the portal channel instead)."""
    sandbox = Sandbox(SandboxConfig(seed=11, customers=2, misuse_share=0, lookalike_share=0)).start()
    mailbox = Mailbox(port=0).start()
    chosen = {"CSPGUARD_FRAUD_RULES_FILE": str(HERE / rules), "CSPGUARD_SUPPORT_ADDRESS": SUPPORT,
              "CSPGUARD_SERVICE_REQUEST_CHANNEL": "email", "CSPGUARD_SERVICE_REQUEST_RETRY_SECONDS": "1", **extra}
    settings = stack_settings(azurite, sandbox, mailbox, **chosen)
    runner = LocalRunner(settings=settings, port=0, enable_timers=False).start()
    return CollectionsStack(runner, sandbox, mailbox, azurite, settings)


def stop_stack(stack: CollectionsStack) -> None:
    stack.runner.stop()
    stack.mailbox.stop()
    stack.sandbox.stop()


@pytest.fixture(scope="module")
def contain_stack(azurite: Azurite) -> Iterator[CollectionsStack]:
    stack = start_stack(azurite, "rules-contain.yaml")
    try:
        yield stack
    finally:
        stop_stack(stack)


@pytest.fixture(scope="module")
def shadow_stack(azurite: Azurite) -> Iterator[CollectionsStack]:
    stack = start_stack(azurite, "rules-shadow.yaml")
    try:
        yield stack
    finally:
        stop_stack(stack)


def customer_with_history(stack: CollectionsStack, name: str) -> tuple[str, str]:
    """A customer with an Azure plan carrying an active Azure subscription with a month of ordinary VM usage (the
    sandbox generates it) and a disabled one, and an Office 365 licence (its e-mail)."""
    created = add_customer(stack, name, [{"kind": "azure_plan", "friendly_name": "Azure plan",
                                          "daily_usage_units": 1.0, "entitlements": ["active", "disabled"]},
                                         {"kind": "license", "friendly_name": "Office 365 E3"}])
    return created["id"], created["subscriptions"][0]["id"]


def azure_subscriptions(stack: CollectionsStack, customer_id: str, plan: str) -> list[str]:
    """The Azure subscriptions (entitlement ids) under the plan, in the sandbox's order."""
    with stack.sandbox_admin() as admin:
        state = admin.get("/_sandbox/state", params={"customer": customer_id}).json()
    sub = next(s for s in state["customers"][0]["subscriptions"] if s["id"] == plan)
    return [e["id"] for e in sub["entitlements"]]


def inject_gpu_spike(stack: CollectionsStack, customer_id: str, subscription_id: str, amount: float = 3000.0,
                     entitlement_id: str | None = None) -> None:
    """Yesterday, the plan's first Azure subscription (or ``entitlement_id``) ran GPU VMs it never ran before."""
    day = (date.today() - timedelta(days=1)).isoformat()
    ent = entitlement_id or azure_subscriptions(stack, customer_id, subscription_id)[0]
    item: dict[str, Any] = {"customerId": customer_id, "subscriptionId": subscription_id, "entitlementId": ent,
                            "entitlementDescription": "Azure subscription",
                            "usageDate": f"{day}T00:00:00Z", "meterCategory": "Virtual Machines",
                            "meterSubCategory": "NCads A100 v4 Series GPU", "meterName": "NC24ads A100 v4",
                            "meterId": "gpu-a100", "resourceLocation": "ChinaNorth3", "quantity": 100,
                            "unitPrice": amount / 100}
    with stack.sandbox_admin() as admin:
        admin.post("/_sandbox/usage", json=[item]).raise_for_status()


def run_scan(stack: CollectionsStack) -> dict[str, Any]:
    with stack.api() as api:
        r = api.post("/fraud/scan")
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]
        return wait_until(lambda: (lambda run: run if run["status"] in ("completed", "failed") else None)(
            api.get(f"/fraud/scans/{run_id}").json()), what="fraud scan to finish")


def fraud_stores(stack: CollectionsStack) -> FraudStores:
    return FraudStores(AzureTables.from_connection_string(stack.azurite.connection_string))


def collections_stores(stack: CollectionsStack) -> Stores:
    return Stores(AzureTables.from_connection_string(stack.azurite.connection_string))
