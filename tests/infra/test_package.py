"""The zip-deploy package: what goes in, what never does.

Building installs every runtime dependency as Linux wheels (pip's cache makes repeat runs quick).
On by default; set CSPGUARD_SKIP_PACKAGE_BUILD=1 to skip the build test on a machine without PyPI.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.package import ROOT, SITE_PACKAGES, build, find_secrets, ignore_spec, select_app_files

FUNCIGNORE = (ROOT / ".funcignore").read_text()


def test_funcignore_keeps_app_code_and_drops_tooling() -> None:
    paths = [
        "function_app.py", "host.json", "requirements.txt", "functions/health.py", "shared/settings.py",
        "config/collections-policy.yaml", "tests/conftest.py", "devtools/package.py", "cli/main.py",
        "bench/bench_x.py", "local.settings.json", ".venv/bin/python", "node_modules/a/b.js",
        "infra/main.bicep",
        "shared/__pycache__/settings.cpython-311.pyc", ".venv-iac/bin/checkov", "dist/csp-guard.zip",
        "docs/deployment.md", "requirements-dev.txt",
    ]  # fmt: skip
    assert select_app_files(paths, ignore_spec(FUNCIGNORE)) == [
        "config/collections-policy.yaml", "function_app.py", "functions/health.py", "host.json",
        "requirements.txt", "shared/settings.py",
    ]  # fmt: skip


def test_secret_scan_finds_keys_but_not_mentions() -> None:
    body = b"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" * 3
    pem = b"-----BEGIN PRIVATE KEY-----\n" + body + b"\n-----END PRIVATE KEY-----"
    assert find_secrets("k.pem", pem) == ["k.pem: private key"]
    assert find_secrets("c.txt", b"DefaultEndpointsProtocol=https;AccountKey=" + b"A" * 86 + b"==") != []
    assert find_secrets("doc.py", b'if "-----BEGIN PRIVATE KEY-----" in text: ...') == []
    azurite = (  # the public Azurite development key, embedded in azure-data-tables
        b"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    )
    assert find_secrets("sdk.py", azurite) == []


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    if os.environ.get("CSPGUARD_SKIP_PACKAGE_BUILD") == "1":
        pytest.skip("CSPGUARD_SKIP_PACKAGE_BUILD=1")
    out: Path = tmp_path_factory.mktemp("pkg") / "csp-guard.zip"
    build(out)
    with zipfile.ZipFile(out) as zf:
        yield zf


@pytest.mark.integration
def test_package_holds_the_app_and_its_linux_dependencies(package: zipfile.ZipFile) -> None:
    names = set(package.namelist())
    assert {"function_app.py", "host.json", "requirements.txt"} <= names
    assert any(n.startswith("functions/") for n in names) and any(n.startswith("shared/") for n in names)
    site = SITE_PACKAGES + "/"
    dists = ("azure_functions-", "pydantic_core-", "azure_storage_queue-", "azure_monitor_opentelemetry-")
    for dist in dists:
        assert any(n.startswith(site + dist) and ".dist-info/" in n for n in names), dist
    compiled = [n for n in names if n.startswith(site + "pydantic_core/") and n.endswith(".so")]
    assert compiled and all("cpython-311-x86_64-linux-gnu" in n for n in compiled)


@pytest.mark.integration
def test_package_leaves_out_tooling_and_secrets(package: zipfile.ZipFile) -> None:
    names = package.namelist()
    banned = ("tests/", "devtools/", "cli/", "bench/", "infra/", "docs/", ".venv", "node_modules/", "var/")
    assert not [n for n in names if n.startswith(banned)]
    assert not [n for n in names if n.rsplit("/", 1)[-1] in ("local.settings.json", "pyproject.toml")]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert [f for n in names for f in find_secrets(n, package.read(n))] == []
