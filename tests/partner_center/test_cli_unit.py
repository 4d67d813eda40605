from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.pc import explain, settings_from
from shared.partner_center import AuthError, ServerError, TransportError
from shared.settings import SettingsError


def test_settings_file_values_override_and_empty_means_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSPGUARD_PC_AUTHORITY_HOST", raising=False)  # an app started earlier may have set it
    file = tmp_path / "local.settings.json"
    values = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "CSPGUARD_PC_BASE_URL": "https://127.0.0.1:8443",
        "CSPGUARD_PC_AUTHORITY_HOST": "",
        "CSPGUARD_PC_RATE_PER_MINUTE": "123",
    }
    file.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    settings = settings_from(file)
    assert settings.pc_base_url == "https://127.0.0.1:8443"
    assert settings.pc_rate_per_minute == 123
    assert settings.pc_authority_host is None  # empty values count as unset


def test_bad_settings_file_is_one_readable_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        settings_from(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Values": {"AzureWebJobsStorage": "x", "CSPGUARD_PC_RATE_PER_MINUTE": "-1"}}))
    with pytest.raises(SettingsError, match=r"CSPGUARD_PC_RATE_PER_MINUTE|pc_rate_per_minute"):
        settings_from(bad)


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (AuthError("bad secret"), "authentication failed"),
        (TransportError("refused"), "cannot reach Partner Center"),
        (ServerError("boom", status=503), "Partner Center error"),
        (SettingsError("invalid csp-guard settings"), "invalid csp-guard settings"),
    ],
)
def test_explain_says_what_to_check(exc: Exception, words: str) -> None:
    assert words in explain(exc)


def test_correlation_id_command_gives_what_partner_center_saw() -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from shared.partner_center import ms_correlation_id

    result = CliRunner().invoke(app, ["pc", "correlation-id", "timer:sweep:run-1"])
    assert result.exit_code == 0
    assert result.stdout.strip() == ms_correlation_id("timer:sweep:run-1")
    guid = "0b5f6a2e-3c1d-4e8f-9a7b-1c2d3e4f5a6b"
    assert CliRunner().invoke(app, ["pc", "correlation-id", guid]).stdout.strip() == guid
