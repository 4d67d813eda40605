"""Test and demo helpers over the sandbox's admin endpoints (``/_sandbox/...``): what a test reads or sets up
in "Partner Center" without going through the app."""

from __future__ import annotations

from typing import Any, Protocol

import httpx


class HasSandboxAdmin(Protocol):
    """A stack (the local stack, the e2e fixture) that can open a client on the sandbox's admin endpoints."""

    def sandbox_admin(self) -> httpx.Client: ...


def add_customer(stack: HasSandboxAdmin, name: str, subscriptions: list[dict[str, Any]]) -> dict[str, Any]:
    """Create a customer with subscriptions (see devtools.sandbox.admin.NewSubscription for the fields)."""
    with stack.sandbox_admin() as admin:
        r = admin.post("/_sandbox/customers", json={"company_name": name, "subscriptions": subscriptions})
        r.raise_for_status()
        return r.json()


def subscription_status(stack: HasSandboxAdmin, customer_id: str) -> dict[str, str]:
    """The true status of each of the customer's subscriptions, as the sandbox holds it."""
    with stack.sandbox_admin() as admin:
        state = admin.get("/_sandbox/state", params={"customer": customer_id}).json()
    return {s["id"]: s["status"] for s in state["customers"][0]["subscriptions"]}


def entitlement_status(stack: HasSandboxAdmin, customer_id: str) -> dict[str, str]:
    """The true status of each Azure subscription (entitlement id -> status) under the customer's Azure plans."""
    with stack.sandbox_admin() as admin:
        state = admin.get("/_sandbox/state", params={"customer": customer_id}).json()
    return {e["id"]: e["status"] for s in state["customers"][0]["subscriptions"] for e in s["entitlements"]}
