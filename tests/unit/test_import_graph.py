"""No import circle among the modules of ``shared/``.

The graph is built from the source with ``ast`` (nothing is imported): an edge for every import a module runs
when it is loaded, i.e. module level, including under ``if``/``try``, but not inside functions and not under
``if TYPE_CHECKING:``. ``from a.b import c`` points at module ``a.b.c`` when that is a module, else at ``a.b``.
Every module of ``shared`` is held to more: no circle even counting imports inside functions, so no module needs a
deferred import to break one (deferred imports stay for cold start only).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRICT = ("shared",)


def _modules(root: Path, package: str) -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in (root / package).rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(body: list[ast.stmt], in_functions: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports run when ``body`` runs (functions' bodies too when ``in_functions``)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _type_checking(node.test):
            yield from _imports(node.orelse, in_functions)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not in_functions:
            continue
        else:  # if/try/with/for/class bodies run at import time
            blocks = [getattr(node, f, []) for f in ("body", "orelse", "finalbody")]
            blocks += [h.body for h in getattr(node, "handlers", [])]
            for block in blocks:
                yield from _imports(block, in_functions)


def import_graph(root: Path, package: str = "shared", in_functions: bool = False) -> dict[str, set[str]]:
    """module -> the modules of ``package`` it imports."""
    mods = _modules(root, package)
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in mods.items():
        here = name if is_package else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8")).body, in_functions):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            edges |= {t for t in targets if t in mods and t != name}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_no_import_circle_among_shared_modules() -> None:
    graph = import_graph(ROOT)
    assert len(graph) > 100 and "shared.services.fraud.cases" in graph["shared.services.fraud.containment"]
    assert cycles(graph) == []


def test_no_circle_in_the_use_cases_and_fraud_engine_even_through_deferred_imports() -> None:
    graph = import_graph(ROOT, in_functions=True)
    strict = {m: {t for t in edges if t.startswith(STRICT)} for m, edges in graph.items() if m.startswith(STRICT)}
    assert "shared.services.forecast" in strict["shared.services.previews"]  # the edge that once closed a circle
    assert "shared.services.operators" in strict and "shared.services.fraud.cases" in strict
    assert cycles(strict) == []


def test_the_check_sees_a_circle(tmp_path: Path) -> None:
    pkg = tmp_path / "shared" / "pkg"
    pkg.mkdir(parents=True)
    (tmp_path / "shared" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from shared.pkg import b\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from shared.pkg import c\n"
                              "def late() -> None:\n    from . import a\n")
    (pkg / "c.py").write_text("from .a import x\n")
    assert cycles(import_graph(tmp_path)) == []  # b's imports are deferred or for the type checker only
    assert cycles(import_graph(tmp_path, in_functions=True)) == [["shared.pkg.a", "shared.pkg.b"]]
    (pkg / "b.py").write_text("try:\n    import shared.pkg.c\nexcept ImportError:\n    pass\n")
    assert cycles(import_graph(tmp_path)) == [["shared.pkg.a", "shared.pkg.b", "shared.pkg.c"]]


def test_the_fraud_blueprints_load_no_service_clock_or_pydantic_at_cold_start() -> None:
    """Each fraud function imports its use case in its body, so ``import function_app`` pays only for names."""
    import subprocess
    import sys

    probe = ("import sys, azure.functions; before = set(sys.modules); "
             "import functions.fraud, functions.fraud_requests; "
             "print(sorted(m for m in set(sys.modules) - before if m.startswith(('shared', 'pydantic'))))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = out.stdout.strip()
    assert "shared.permissions" in loaded  # the probe saw the blueprints' own imports
    assert "pydantic" not in loaded and "shared.services" not in loaded and "shared.clock" not in loaded, loaded
