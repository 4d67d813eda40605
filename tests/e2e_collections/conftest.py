"""A whole local stack for end-to-end collections tests: Azurite, the Partner Center sandbox, the SMTP
mailbox, and function_app.py served by the local runner. Tests talk to it only through its HTTP API,
its queues and the sandbox's inspection endpoints, as a user or the Functions host would."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from devtools.azurite import Azurite
from devtools.mailbox import Mailbox
from devtools.polling import wait_until
from devtools.runner import DEFAULT_KEYS, LocalRunner
from devtools.sandbox import Sandbox, SandboxConfig
from devtools.sandbox.inspect import add_customer, entitlement_status, subscription_status

__all__ = ["CollectionsStack", "add_customer", "entitlement_status", "services_world", "stack_settings",
           "subscription_status", "wait_until"]

HERE = Path(__file__).parent
T = TypeVar("T")


@dataclass
class CollectionsStack:
    runner: LocalRunner
    sandbox: Sandbox
    mailbox: Mailbox
    azurite: Azurite
    settings: dict[str, str]

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.runner.base_url}/api", timeout=30,
                            headers={"x-functions-key": DEFAULT_KEYS.function, "x-actor": "ops@partner.example"})

    def sandbox_admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.sandbox.base_url, verify=self.sandbox.ssl_context(), timeout=30)

    def now(self) -> datetime:
        """The app's clock (the stack's time machine; real time until a test moves it)."""
        with self.api() as api:
            return datetime.fromisoformat(api.get("/clock").json()["now"])

    def advance(self, duration: str) -> None:
        """Time passes for the app, the runner and the sandbox together (POST /api/clock)."""
        with self.api() as api:
            r = api.post("/clock", json={"advance": duration})
            assert r.status_code == 200, r.text


def stack_settings(azurite: Azurite, sandbox: Sandbox, mailbox: Mailbox, **extra: str) -> dict[str, str]:
    return {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsStorage": azurite.connection_string,
        "CSPGUARD_PC_CLOUD": "china",
        "CSPGUARD_PC_TENANT_ID": sandbox.tenant_id,
        "CSPGUARD_PC_CLIENT_ID": sandbox.client_id,
        "CSPGUARD_PC_CLIENT_SECRET": sandbox.client_secret,
        "CSPGUARD_PC_BASE_URL": sandbox.base_url,
        "CSPGUARD_PC_AUTHORITY_HOST": sandbox.authority_host,
        "CSPGUARD_PC_CA_BUNDLE": str(sandbox.ca_pem_path),
        "CSPGUARD_POLICY_FILE": str(HERE / "policy-e2e.yaml"),
        "CSPGUARD_POLICY_ARCHIVE_DIR": str(HERE / "no-archive"),
        "CSPGUARD_ENFORCEMENT_ENABLED": "true",
        "SWEEP_SCHEDULE": "0 0 0 1 1 *",
        "FRAUD_SCAN_SCHEDULE": "0 0 0 1 1 *",
        "CSPGUARD_MAX_SUSPENSIONS_PER_RUN": "5",
        "CSPGUARD_MAX_SUSPENSION_SHARE": "1.0",
        "CSPGUARD_SMTP_HOST": "127.0.0.1",
        "CSPGUARD_SMTP_PORT": str(mailbox.port),
        "CSPGUARD_PARTNER_NAME": "Example CSP Partner",
        "CSPGUARD_COLLECTIONS_CONTACT": "collections@partner.example",
        "CSPGUARD_PC_ENTITLEMENT_POLL_SECONDS": "0.1",  # the sandbox's Azure subscription changes land in 0.3 s
        "CSPGUARD_PC_ENTITLEMENT_WAIT_SECONDS": "10",
        **extra,
    }


def services_world(azurite: Azurite, seed: int, customers: int) -> Iterator[tuple[CollectionsStack, dict[str, str]]]:
    """The real parts a use case needs without the runner (a sandbox, a mailbox, Azurite) and the app settings
    naming them: for integration tests that call use cases on an ``AppContext``."""
    sandbox = Sandbox(SandboxConfig(seed=seed, customers=customers, misuse_share=0, lookalike_share=0)).start()
    mailbox = Mailbox(port=0).start()
    values = stack_settings(azurite, sandbox, mailbox)
    try:
        yield CollectionsStack(None, sandbox, mailbox, azurite, values), values  # type: ignore[arg-type]
    finally:
        mailbox.stop()
        sandbox.stop()


@pytest.fixture(scope="module")
def collections_stack(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectionsStack]:
    clock_file = tmp_path_factory.mktemp("clock") / "clock.json"  # the stack's time machine, as make run's
    # the shipped holiday data ends with 2026; tests move weeks ahead, so the partner's override file confirms
    # the years they may reach (the holiday gates are open in policy-e2e.yaml; only "doubtful" would block)
    calendar = clock_file.with_name("calendar-overrides.yaml")
    year = datetime.now().year
    calendar.write_text(f"confirmed_years: [{year}, {year + 1}, {year + 2}]\n", encoding="utf-8")
    sandbox = Sandbox(SandboxConfig(seed=7, customers=3, clock_file=clock_file)).start()
    mailbox = Mailbox(port=0).start()
    settings = stack_settings(azurite, sandbox, mailbox, CSPGUARD_LOCAL_STACK="true",
                              CSPGUARD_LOCAL_CLOCK_FILE=str(clock_file),
                              CSPGUARD_CALENDAR_OVERRIDES_FILE=str(calendar))
    runner = LocalRunner(settings=settings, port=0, enable_timers=False).start()
    try:
        yield CollectionsStack(runner, sandbox, mailbox, azurite, settings)
    finally:
        runner.stop()
        mailbox.stop()
        sandbox.stop()

