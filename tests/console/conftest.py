"""The local stack with the console, and a headless Chromium (Debian's ``chromium``) driven by Playwright.

No browser is downloaded: Playwright drives /usr/bin/chromium (``make test`` installs the package when it is
missing; so does the ``browser`` fixture, as root, for a bare ``pytest``). Screenshots go to
var/artifacts/console/."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.azurite import Azurite
from devtools.mailbox import Mailbox
from devtools.runner import LocalRunner
from devtools.sandbox import Sandbox, SandboxConfig
from tests.e2e_collections.conftest import CollectionsStack, stack_settings

HERE = Path(__file__).parent
CHROMIUM = Path(os.environ.get("CSPGUARD_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "console"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
pytestmark = pytest.mark.e2e


def ensure_chromium() -> Path:
    """Debian's chromium, installed with apt-get when missing (root only); a clear failure otherwise."""
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, timeout=1200)
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does this)")
    return CHROMIUM


@pytest.fixture(scope="module")
def console_stack(azurite: Azurite) -> Iterator[CollectionsStack]:
    sandbox = Sandbox(SandboxConfig(seed=13, customers=2, misuse_share=0, lookalike_share=0)).start()
    mailbox = Mailbox(port=0).start()
    settings = stack_settings(azurite, sandbox, mailbox, CSPGUARD_FRAUD_RULES_FILE=str(HERE / "rules-approve.yaml"),
                              CSPGUARD_SUPPORT_ADDRESS="support@21vianet.example")
    runner = LocalRunner(settings=settings, port=0, enable_timers=False).start()
    try:
        yield CollectionsStack(runner, sandbox, mailbox, azurite, settings)
    finally:
        runner.stop()
        mailbox.stop()
        sandbox.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A browser context on a fresh --user-data-dir (Playwright's persistent context)."""
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="cspguard-chromium-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(profile, executable_path=str(executable), headless=True,
                                                           args=FLAGS, viewport={"width": 1280, "height": 900})
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
