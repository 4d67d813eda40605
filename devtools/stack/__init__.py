"""The local stack behind ``make run`` and ``make demo``: Azurite, the Partner Center sandbox, the SMTP
mailbox and function_app.py in the local runner, wired together on 127.0.0.1.

    from devtools.stack import Stack, StackConfig
    with Stack(StackConfig(free_ports=True)) as stack:   # tests and the demo: nothing fixed, nothing kept
        stack.http().get("/api/health")

CLI: ``python -m devtools.stack run`` (until Ctrl-C) and ``python -m devtools.stack demo`` (one scripted pass).
"""

from devtools.stack.config import PORT_ENV, Ports, StackConfig, StackError
from devtools.stack.core import Stack

__all__ = ["PORT_ENV", "Ports", "Stack", "StackConfig", "StackError"]
