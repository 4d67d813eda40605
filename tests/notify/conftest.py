"""Fixtures for notification tests: a real SMTP mailbox on loopback and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.mailbox import Mailbox
from shared.settings import Settings


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"AzureWebJobsStorage": "UseDevelopmentStorage=true",
                              "CSPGUARD_MAIL_FROM": "Fabrikam Collections <collections@fabrikam.example>"}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Mailbox]:
    box = Mailbox(port=0, directory=tmp_path / "mailbox").start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def smtp_settings(mailbox: Mailbox) -> Settings:
    return make_settings(CSPGUARD_SMTP_HOST="127.0.0.1", CSPGUARD_SMTP_PORT=mailbox.port)
