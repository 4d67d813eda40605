"""``cspguard sandbox``: run the Partner Center sandbox on loopback until Ctrl-C.

A thin wrapper over ``python -m devtools.sandbox`` (same options, same output) so the sandbox is one
command away from the CLI a developer already uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Partner Center sandbox on 127.0.0.1 (HTTPS, Entra-like token endpoint).",
                  invoke_without_command=True)


@app.callback()
def sandbox(
    port: Annotated[int, typer.Option(help="HTTPS port on 127.0.0.1 (0 = any free port).")] = 8443,
    seed: Annotated[int, typer.Option(help="Portfolio seed: the same seed gives the same customers.")] = 1,
    customers: Annotated[int, typer.Option(help="How many customers to generate.")] = 50,
    state_dir: Annotated[Path, typer.Option(help="Where the CA (ca.pem) is kept across restarts.")] = Path(
        "var/sandbox"),
) -> None:
    """Start the sandbox and print the CSPGUARD_PC_* settings that point the app at it."""
    from devtools.sandbox.__main__ import main

    main(["--port", str(port), "--seed", str(seed), "--customers", str(customers), "--state-dir", str(state_dir)])
