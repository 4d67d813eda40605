"""Every setting the app reads is documented: in local.settings.example.json and in the README."""

import json
from pathlib import Path

import pytest

from shared.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
ALIASES = [f.alias or name for name, f in Settings.model_fields.items()]


def test_example_settings_list_every_setting() -> None:
    values = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    assert sorted(set(ALIASES) - set(values)) == []


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    assert [a for a in ALIASES if f"`{a}`" not in readme] == []


def test_invalid_settings_name_every_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("CSPGUARD_PC_RATE_PER_MINUTE", "-1")
    monkeypatch.setenv("CSPGUARD_PC_CLOUD", "mars")
    with pytest.raises(SettingsError) as err:
        load_settings()
    text = str(err.value)
    assert "CSPGUARD_PC_RATE_PER_MINUTE" in text and "CSPGUARD_PC_CLOUD" in text


def test_missing_storage_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    with pytest.raises(SettingsError, match="storage is not configured"):
        load_settings()


def test_tools_that_need_no_storage_load_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    monkeypatch.setenv("CSPGUARD_PC_RATE_PER_MINUTE", "250")
    settings = load_settings(require_storage=False)
    assert settings.storage_connection is None and settings.pc_rate_per_minute == 250
    monkeypatch.setenv("CSPGUARD_PC_RATE_PER_MINUTE", "-1")
    with pytest.raises(SettingsError, match="CSPGUARD_PC_RATE_PER_MINUTE"):  # everything else still validated
        load_settings(require_storage=False)
