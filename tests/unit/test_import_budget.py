"""Cold start: ``import function_app`` costs at most 1.2x a bare ``import azure.functions``.

The host imports function_app before it can run any function, so whatever the blueprints import at top level
is paid on every cold start. Blueprints import ``azure.functions``, their ``functions._http``-like helpers,
``shared.permissions`` and the queue names (``shared.messaging``, standard library only) at top level; every
use case, pydantic model and SDK is imported inside the function body that needs it.

How it is measured, so that a loaded 2-core machine does not decide the outcome: each run is a fresh
interpreter running ``import azure.functions; import function_app`` under ``-X importtime``, with compiled
bytecode (a private ``PYTHONPYCACHEPREFIX``, warmed first, as on a deployed app); the baseline is the cumulative
time of ``azure.functions`` and the app's cost is the sum of the *self* times of every module imported after it
(the blueprints' own code, their decorators and whatever they pull in). Load only ever adds time, so each of the
two is the best of five runs. The test prints the figures (``-s``) and, on failure, names the heaviest modules.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUDGET = 1.2
RUNS = 5

class Row(NamedTuple):
    self_us: int
    cumulative_us: int
    depth: int
    module: str


def _importtime(code: str, pycache: Path) -> list[Row]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, check=False, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        name = name[1:]
        rows.append(Row(int(own), int(cumulative), (len(name) - len(name.lstrip())) // 2, name.strip()))
    return rows


def cold_start(pycache: Path) -> tuple[int, int, list[Row]]:
    """(azure.functions cumulative us, the app's own us, the app's rows) of one fresh interpreter."""
    rows = _importtime("import azure.functions; import function_app", pycache)
    base = next(i for i, r in enumerate(rows) if r.module == "azure.functions" and r.depth == 0)
    app = rows[base + 1:]
    return rows[base].cumulative_us, sum(r.self_us for r in app), app


def test_import_function_app_within_budget_of_azure_functions(tmp_path: Path) -> None:
    _importtime("import function_app", tmp_path)  # compile once: later runs read bytecode, as a deployed app
    runs = [cold_start(tmp_path) for _ in range(RUNS)]
    base = min(r[0] for r in runs)
    _, own, rows = min(runs, key=lambda r: r[1])
    heaviest = ", ".join(f"{r.module} {r.self_us / 1000:.1f} ms" for r in sorted(rows, reverse=True)[:10])
    ratio = (base + own) / base
    print(f"import azure.functions {base / 1000:.1f} ms; function_app adds {own / 1000:.1f} ms: {ratio:.2f}x")
    assert ratio <= BUDGET, (
        f"import function_app is {ratio:.2f}x a bare import azure.functions ({base / 1000:.1f} ms + "
        f"{own / 1000:.1f} ms; budget {BUDGET}x). Heaviest (self time): {heaviest}. Import these inside the "
        "function bodies that need them."
    )


CHEAP = ("azure.functions", "functions._http", "functions._queue", "functions._routes",
         "shared.permissions",
         "shared.messaging", "shared.messaging.kinds")
"""What a blueprint may import at top level besides the standard library (each is stdlib-only itself)."""


def _top_level_imports(path: Path) -> list[str]:
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def _blueprints() -> list[object]:
    out: list[object] = []
    for path in sorted((ROOT / "functions").glob("*.py")):
        out.append(pytest.param(path.name, id=path.name))
    return out


@pytest.mark.parametrize("name", _blueprints())
def test_blueprints_import_only_cheap_modules_at_top_level(name: str) -> None:
    heavy = [m for m in _top_level_imports(ROOT / "functions" / name)
             if m != "__future__" and m.split(".")[0] not in sys.stdlib_module_names and m not in CHEAP]
    assert heavy == [], f"functions/{name} imports {heavy} at top level: import them inside the function body"


def test_function_app_imports_only_azure_functions_and_blueprints() -> None:
    heavy = [m for m in _top_level_imports(ROOT / "function_app.py")
             if m != "azure.functions" and not m.startswith("functions.")]
    assert heavy == []
