"""A faithful local Functions host for csp-guard (Core Tools cannot be installed here).

``LocalRunner`` drives ``function_app.app`` from the metadata the real host receives: queue triggers
with poison handling, timer triggers, HTTP triggers with keys, queue output bindings.
"""

from devtools.runner.invoke import Invocation, InvocationFailed
from devtools.runner.metadata import IndexingError
from devtools.runner.runner import DEFAULT_KEYS, LocalRunner

__all__ = ["DEFAULT_KEYS", "IndexingError", "Invocation", "InvocationFailed", "LocalRunner"]
