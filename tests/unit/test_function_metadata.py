"""The production indexing rule for the REAL app: every binding name is a parameter of its function.

If a trigger's ``arg_name`` differs from the Python parameter, ``get_functions()`` still works but
the host silently drops the whole app in Azure; this test is the only guard.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys

import pytest


@pytest.fixture(scope="module")
def functions() -> list:
    sys.modules.pop("function_app", None)  # get_functions() may be called once per app object
    module = importlib.import_module("function_app")
    return list(module.app.get_functions())


def test_app_has_functions(functions) -> None:
    assert functions, "function_app.app registers no functions"


def test_every_binding_name_matches_a_parameter(functions) -> None:
    problems = []
    for f in functions:
        params = set(inspect.signature(f.get_user_function()).parameters)
        for b in json.loads(f.get_function_json())["bindings"]:
            if b["name"] != "$return" and b["name"] not in params:
                name = f.get_function_name()
                problems.append(f"{name}: binding {b['name']!r} ({b['type']}) not in {params}")
    assert not problems, "\n".join(problems)


def test_every_function_has_exactly_one_trigger_and_a_unique_name(functions) -> None:
    names = [f.get_function_name() for f in functions]
    assert len(names) == len(set(names))
    for f in functions:
        triggers = [b for b in json.loads(f.get_function_json())["bindings"] if b["type"].endswith("Trigger")]
        assert len(triggers) == 1, f.get_function_name()
