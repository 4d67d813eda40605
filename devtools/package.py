"""Build the zip-deploy package: ``python -m devtools.package [--out dist/csp-guard.zip]``.

The package is what docs/deployment.md publishes with ``az functionapp deployment source config-zip``:
the app code selected by ``.funcignore`` (gitignore rules, like Core Tools) plus the dependencies of
requirements.txt installed for the Functions Linux image (x86_64, CPython 3.11) into
``.python_packages/lib/site-packages``, where the Python worker looks first. Wheels only: the app
setting SCM_DO_BUILD_DURING_DEPLOYMENT=false means nothing is compiled in Azure, so a dependency
without a manylinux wheel must fail here, not at run time.

The zip is reproducible (sorted entries, fixed timestamps) and refused if app code holds a secret.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pathspec

ROOT = Path(__file__).resolve().parent.parent
SITE_PACKAGES = ".python_packages/lib/site-packages"
PLATFORM = "manylinux2014_x86_64"
PYTHON_VERSION = "3.11"
# Never shipped whatever .funcignore says: build leftovers and byte code compiled for this machine.
ALWAYS_EXCLUDED = ("__pycache__/", "*.pyc", "*.pyo", ".DS_Store", ".funcignore")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

_SECRET_PATTERNS = {
    "storage account key": re.compile(rb"AccountKey=([A-Za-z0-9+/]{20,}={0,2})"),
    # A PEM block with a body, not a mere mention of the marker (msal and cryptography have those).
    "private key": re.compile(rb"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----\s*[A-Za-z0-9+/=]{40,}"),
}
# Azurite's well-known development key, published in Microsoft's docs (azure-data-tables embeds it).
_PUBLIC_KEYS = {
    b"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
}


class PackageError(RuntimeError):
    """The package cannot be built as asked; the message says why."""


@dataclass(frozen=True)
class BuildResult:
    path: Path
    app_files: int
    dependency_files: int
    bytes: int
    seconds: float


# --- pure core ---------------------------------------------------------------------------------------


def ignore_spec(funcignore_text: str) -> pathspec.PathSpec:
    lines = [*funcignore_text.splitlines(), *ALWAYS_EXCLUDED]
    return pathspec.GitIgnoreSpec.from_lines(lines)


def select_app_files(relative_paths: Iterable[str], spec: pathspec.PathSpec) -> list[str]:
    """The app files to ship: every path the ignore spec does not match, sorted."""
    return sorted(p for p in relative_paths if not spec.match_file(p))


def find_secrets(name: str, data: bytes) -> list[str]:
    """Human-readable findings for one file's bytes (empty when clean)."""
    found = []
    for what, rx in _SECRET_PATTERNS.items():
        for m in rx.finditer(data):
            if not (m.groups() and m.group(1) in _PUBLIC_KEYS):
                found.append(f"{name}: {what}")
                break
    return found


def pip_command(requirements: Path, target: Path, cache_dir: Path | None) -> list[str]:
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--target", str(target), "--platform", PLATFORM, "--python-version", PYTHON_VERSION,
        "--implementation", "cp", "--only-binary=:all:", "--upgrade", "-r", str(requirements),
    ]  # fmt: skip
    if cache_dir is not None:
        cmd += ["--cache-dir", str(cache_dir)]
    return cmd


# --- shell ---------------------------------------------------------------------------------------------


def _walk(root: Path, spec: pathspec.PathSpec) -> Iterable[str]:
    """Relative file paths under root, pruning ignored directories early (.venv, node_modules...)."""
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not spec.match_file(prefix + d + "/"))
        for name in filenames:
            yield prefix + name


def _install_dependencies(requirements: Path, target: Path, cache_dir: Path | None) -> None:
    proc = subprocess.run(pip_command(requirements, target, cache_dir), capture_output=True, text=True)
    if proc.returncode != 0:
        raise PackageError(
            "pip could not install requirements.txt as Linux x86_64 / CPython 3.11 wheels "
            f"(a dependency without a manylinux wheel?):\n{proc.stderr.strip()[-4000:]}"
        )
    for junk in target.glob("bin"):
        shutil.rmtree(junk)  # console scripts with this machine's interpreter path: useless in Azure


def _add(zf: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    info = zipfile.ZipInfo(arcname, date_time=_ZIP_TIME)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build(out: Path, root: Path = ROOT, *, cache_dir: Path | None = None) -> BuildResult:
    """Build the package at ``out`` (parent directories created) and return what went in."""
    started = time.monotonic()
    funcignore = root / ".funcignore"
    spec = ignore_spec(funcignore.read_text(encoding="utf-8") if funcignore.is_file() else "")
    out = out.resolve()
    app_files = [p for p in select_app_files(_walk(root, spec), spec) if (root / p).resolve() != out]
    for required in ("function_app.py", "host.json", "requirements.txt"):
        if required not in app_files:
            raise PackageError(f"{required} is missing from the app files (check .funcignore)")
    findings = [f for p in app_files for f in find_secrets(p, (root / p).read_bytes())]
    if findings:
        raise PackageError("refusing to package secrets:\n  " + "\n  ".join(findings))

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cspguard-pkg-") as tmp:
        site = Path(tmp) / SITE_PACKAGES
        _install_dependencies(root / "requirements.txt", site, cache_dir)
        dep_files = sorted(
            p.relative_to(tmp).as_posix()
            for p in site.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
        )
        partial = out.with_suffix(out.suffix + ".partial")
        with zipfile.ZipFile(partial, "w", compresslevel=6) as zf:
            for rel in app_files:
                _add(zf, rel, (root / rel).read_bytes())
            for rel in dep_files:
                _add(zf, rel, (Path(tmp) / rel).read_bytes())
        partial.replace(out)
    return BuildResult(out, len(app_files), len(dep_files), out.stat().st_size, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.package", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "csp-guard.zip")
    parser.add_argument("--cache-dir", type=Path, default=None, help="pip cache (default: pip's own)")
    args = parser.parse_args(argv)
    try:
        result = build(args.out, cache_dir=args.cache_dir)
    except PackageError as exc:
        print(f"package: {exc}", file=sys.stderr)
        return 1
    print(
        f"built {result.path} ({result.bytes / 1_048_576:.1f} MiB): {result.app_files} app files, "
        f"{result.dependency_files} dependency files, {result.seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
