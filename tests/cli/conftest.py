"""CLI tests run ``cspguard`` through typer's CliRunner against a real Azurite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.azurite import Azurite
from shared.context import AppContext, get_context, reset_context

ROOT = Path(__file__).parents[2]
POLICY = ROOT / "config" / "collections-policy.yaml"


@pytest.fixture
def app_env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[AppContext]:
    """The app's settings pointed at Azurite and the shipped policy; the context the CLI will build."""
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("CSPGUARD_POLICY_FILE", str(POLICY))
    monkeypatch.setenv("CSPGUARD_POLICY_ARCHIVE_DIR", str(tmp_path / "archive"))
    reset_context()
    yield get_context()
    reset_context()


@pytest.fixture
def customer_id() -> str:
    """Tables are shared within the session: every test works on its own customers."""
    return str(uuid.uuid4())
