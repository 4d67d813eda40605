"""The app's HTTP routes at run time, for the OpenAPI document and the console's in-process API calls.

``FunctionApp.get_functions()`` may run only once per app (the host's indexing; a second call raises on
"duplicate" names), so this builds the same Function objects from the app's builders and caches them."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any


@cache
def http_routes() -> tuple[tuple[str, str, Callable[..., Any]], ...]:
    """(METHOD, route, user function) of every HTTP function, from the metadata the host indexes."""
    import function_app

    app = function_app.app
    out = []
    for builder in app._function_builders:
        f = builder.build(app.auth_level)
        for binding in json.loads(f.get_function_json())["bindings"]:
            if binding.get("type") == "httpTrigger":
                methods = binding.get("methods") or ("GET",)
                out += [(m.upper(), binding["route"], f.get_user_function()) for m in methods]
    return tuple(out)
