"""``cspguard`` as a new user runs it: a separate process, a narrow terminal, a fresh environment.

``pc`` and ``policy-doc`` need no storage; every error is one line at any width; commands that read
storage (``fraud ...``) take ``--env-file`` like the collections commands.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.azurite import Azurite
from devtools.sandbox import Sandbox, SandboxConfig

from .conftest import POLICY, ROOT

pytestmark = pytest.mark.integration


def cspguard(*args: str, env: dict[str, str] | None = None, columns: int = 40) -> subprocess.CompletedProcess[str]:
    """Run ``cspguard`` in a fresh process with only ``env`` (plus PATH/HOME) and a narrow terminal."""
    base = {k: os.environ[k] for k in ("PATH", "HOME", "SYSTEMROOT") if k in os.environ}
    full = {**base, "PYTHONPATH": str(ROOT), "COLUMNS": str(columns), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error")]
    assert len(errors) == 1, result.stderr
    assert all(w in errors[0] for w in words), errors[0]
    assert "Traceback" not in result.stderr and "╭" not in result.stderr


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(seed=11, customers=5)).start() as sb:
        yield sb


def pc_env(sb: Sandbox) -> dict[str, str]:
    """Only Partner Center settings: no AzureWebJobsStorage, as on a fresh checkout."""
    return {
        "CSPGUARD_PC_TENANT_ID": sb.tenant_id,
        "CSPGUARD_PC_CLIENT_ID": sb.client_id,
        "CSPGUARD_PC_CLIENT_SECRET": sb.client_secret,
        "CSPGUARD_PC_BASE_URL": sb.base_url,
        "CSPGUARD_PC_AUTHORITY_HOST": sb.authority_host,
        "CSPGUARD_PC_CA_BUNDLE": str(sb.ca_pem_path),
    }


def test_pc_works_without_storage(sandbox: Sandbox) -> None:
    result = cspguard("pc", "customers", "--json", env=pc_env(sandbox))
    assert result.returncode == 0, result.stderr
    customers = json.loads(result.stdout)
    assert len(customers) == 5
    subs = cspguard("pc", "subscriptions", customers[0]["id"], "--json", env=pc_env(sandbox))
    assert subs.returncode == 0, subs.stderr
    assert json.loads(subs.stdout)


def test_pc_takes_its_settings_from_an_env_file(sandbox: Sandbox, tmp_path: Path) -> None:
    env_file = tmp_path / "pc.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in pc_env(sandbox).items()))
    result = cspguard("pc", "customers", "--json", "--env-file", str(env_file))
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 5


def test_pc_errors_are_one_line_at_any_width(sandbox: Sandbox) -> None:
    wrong = {**pc_env(sandbox), "CSPGUARD_PC_CLIENT_SECRET": "wrong"}
    result = cspguard("pc", "customers", env=wrong, columns=40)
    assert result.returncode == 1
    assert_one_line_error(result, "authentication failed", "AADSTS7000215", "CLIENT_SECRET)")
    missing = cspguard("pc", "customers", env={}, columns=40)
    assert missing.returncode == 1
    assert_one_line_error(missing, "credentials incomplete")
    usage = cspguard("pc", "subscriptions", env=pc_env(sandbox), columns=40)  # missing argument
    assert usage.returncode == 2
    assert_one_line_error(usage, "Missing argument 'CUSTOMER'")


def test_policy_doc_works_without_storage() -> None:
    result = cspguard("policy-doc", env={"CSPGUARD_POLICY_FILE": str(POLICY)})
    assert result.returncode == 0, result.stderr
    assert "2026-11-v1" in result.stdout
    bad = cspguard("policy-doc", "--language", "fr", env={})
    assert bad.returncode == 1
    assert_one_line_error(bad, "fr")


def test_fraud_commands_take_env_file_and_say_when_storage_is_missing(azurite: Azurite, tmp_path: Path) -> None:
    no_storage = cspguard("fraud", "cases", env={}, columns=40)
    assert no_storage.returncode == 2
    assert_one_line_error(no_storage, "storage is not configured", "AzureWebJobsStorage")
    env_file = tmp_path / "stack.env"
    env_file.write_text(f"AzureWebJobsStorage={azurite.connection_string}\n")
    cases = cspguard("fraud", "cases", "--json", "--env-file", str(env_file))
    assert cases.returncode == 0, cases.stderr
    assert isinstance(json.loads(cases.stdout), list)
    backtest = cspguard("fraud", "backtest", "--json", "--env-file", str(env_file))
    assert backtest.returncode == 0, backtest.stderr
    assert "assessments" in json.loads(backtest.stdout)
    missing = cspguard("fraud", "cases", "--env-file", str(tmp_path / "nope.env"))
    assert missing.returncode == 2
    assert_one_line_error(missing, "env file not found")
