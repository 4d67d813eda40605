"""Shared fixtures. Real parts: Azurite for storage (one per test session, fresh queue names per test)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from devtools.azurite import Azurite


def _running_azurite() -> Iterator[Azurite]:
    server = Azurite.on_free_ports().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """A real Azurite on free loopback ports for the whole test session."""
    yield from _running_azurite()


own_azurite = pytest.fixture(scope="module", name="azurite")(_running_azurite)
"""For a module whose sweeps or feed status must see only its own data: ``from tests.conftest import
own_azurite`` overrides ``azurite`` for that module with an Azurite of its own."""


@pytest.fixture
def storage_connection(azurite: Azurite) -> str:
    return azurite.connection_string


@pytest.fixture
def unique_name() -> str:
    """A fresh lowercase suffix so tests sharing one Azurite never see each other's queues/tables."""
    return "t" + uuid.uuid4().hex[:10]
