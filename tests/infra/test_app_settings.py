"""The Bicep defines every app setting the app needs, the cloud-correct way."""

from __future__ import annotations

import re

import pytest
from pydantic import SecretStr

from shared.settings import Settings
from tests.infra.bicep import all_bicep, app_settings, read, strip_comments

FUNCTIONAPP = read("modules/functionapp.bicep")
SETTINGS = app_settings(FUNCTIONAPP)


def deploy_required() -> dict[str, bool]:
    """Alias -> is it a secret, for every setting a deployment must define.

    Required means: marked ``json_schema_extra=DEPLOY`` in shared/settings.py, or has no default.
    """
    out: dict[str, bool] = {}
    for field in Settings.model_fields.values():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if extra.get("deploy") == "required" or field.is_required():
            assert field.alias, "every setting is read by its env alias"
            out[field.alias] = SecretStr in getattr(field.annotation, "__args__", (field.annotation,))
    return out


def test_the_parser_reads_names_and_values() -> None:
    text = """
    var s = [
      // a comment { name: 'NOT_ME' }
      {
        name: 'A_SETTING'
        value: 'x' // trailing
      }
      {
        name: 'B'
        value: kv
      }
    ]"""
    assert app_settings(text) == {"A_SETTING": "'x'", "B": "kv"}


def test_the_required_list_is_meaningful() -> None:
    required = deploy_required()
    must = {"CSPGUARD_PC_CLIENT_SECRET", "SWEEP_SCHEDULE", "AzureWebJobsStorage__queueServiceUri"}
    assert must <= set(required)
    assert required["CSPGUARD_PC_CLIENT_SECRET"] is True
    assert required["CSPGUARD_PC_TENANT_ID"] is False


def test_every_required_setting_is_defined() -> None:
    missing = sorted(set(deploy_required()) - set(SETTINGS))
    assert not missing, f"infra/modules/functionapp.bicep lacks app settings: {missing}"


# The App Insights connection string is not a credential here: the resource has local auth disabled,
# so ingestion needs an Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
NOT_CREDENTIALS = {"APPLICATIONINSIGHTS_CONNECTION_STRING"}


@pytest.mark.parametrize(
    "alias", sorted(a for a, secret in deploy_required().items() if secret and a not in NOT_CREDENTIALS)
)
def test_secrets_are_key_vault_references(alias: str) -> None:
    assert SETTINGS[alias].startswith("'${kv}"), f"{alias} must be a Key Vault reference"
    assert "'@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/'" in FUNCTIONAPP


def test_host_storage_is_identity_based_with_explicit_uris() -> None:
    for service in ("blob", "queue", "table"):
        assert SETTINGS[f"AzureWebJobsStorage__{service}ServiceUri"] == f"storage{service.title()}Endpoint"
    assert SETTINGS["AzureWebJobsStorage__credential"] == "'managedidentity'"
    assert SETTINGS["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert "AzureWebJobsStorage" not in SETTINGS, "no connection string in Azure"
    for text in all_bicep().values():
        assert "__accountName" not in strip_comments(text)
    endpoints = read("modules/storage.bicep")
    for service in ("blob", "queue", "table"):
        assert f"output {service}Endpoint string = account.properties.primaryEndpoints.{service}" in endpoints


def test_schedules_are_app_settings_for_the_timer_bindings() -> None:
    assert SETTINGS["SWEEP_SCHEDULE"] == "appSettings.sweepSchedule"
    assert SETTINGS["FRAUD_SCAN_SCHEDULE"] == "appSettings.fraudScanSchedule"


# Host names that must come from environment() or a resource output, never be written down.
_LITERAL_HOSTS = re.compile(
    r"chinacloudapi\.cn|azure\.cn|windows\.net|microsoftonline\.(com|cn)|applicationinsights\.azure|"
    r"vault\.azure|chinacloudsites|azurewebsites\.net",
    re.IGNORECASE,
)


def test_no_literal_cloud_host_names() -> None:
    found = {
        path: _LITERAL_HOSTS.findall(strip_comments(text))
        for path, text in all_bicep().items()
        if _LITERAL_HOSTS.search(strip_comments(text))
    }
    assert not found


def test_key_vault_is_rbac_with_soft_delete_and_purge_protection() -> None:
    kv = read("modules/keyvault.bicep")
    for line in ("enableRbacAuthorization: true", "enableSoftDelete: true", "enablePurgeProtection: true"):
        assert line in kv


def test_least_privilege_roles_are_assigned() -> None:
    text = "\n".join(all_bicep().values())
    roles = {
        "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
        "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
        "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
        "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    }
    assert all(guid in text for guid in roles), [name for guid, name in roles.items() if guid not in text]
    # Nothing broader: no Owner, Contributor or Storage Account Contributor.
    for broad in ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c",
                  "17d1049b-9a84-46fb-8f53-869881c3d3ab"):
        assert broad not in text


def test_storage_hardening() -> None:
    st = read("modules/storage.bicep")
    for line in ("minimumTlsVersion: 'TLS1_2'", "allowBlobPublicAccess: false",
                 "allowSharedKeyAccess: needsContentShare", "supportsHttpsTrafficOnly: true"):
        assert line in st
    main = read("main.bicep")
    assert "needsContentShare: isElastic" in main
    assert "'Consumption'" not in main and "'FlexConsumption'" not in main


def test_sample_parameters_fill_every_parameter_without_a_default() -> None:
    import json

    main = strip_comments(read("main.bicep"))
    declared = dict(re.findall(r"^param (\w+) \w+(.*)$", main, re.MULTILINE))
    needed = {name for name, rest in declared.items() if "=" not in rest}
    sample = json.loads(read("main.parameters.sample.json"))["parameters"]
    assert needed and needed <= set(sample), sorted(needed - set(sample))
    assert set(sample) <= set(declared), sorted(set(sample) - set(declared))
    assert sample["location"]["value"].startswith("china")
