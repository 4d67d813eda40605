"""``cspguard``: a small composition of sub-apps, one per area (add yours with ``app.add_typer``)."""

from __future__ import annotations

import typer

from cli import clock, collections, deadlines, forecast, fraud, fraud_requests, pc, rehearse, sandbox

# rich_markup_mode=None: usage errors print as click's one "Error: ..." line, not a rich panel that wraps
# at the terminal width (sub-commands keep their rich help).
app = typer.Typer(
    name="cspguard", help="csp-guard tools.", no_args_is_help=True, add_completion=False, rich_markup_mode=None
)
app.add_typer(pc.app, name="pc")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(fraud.app, name="fraud")
fraud_requests.register(fraud.app)
collections.register(app)
deadlines.register(app)
app.add_typer(clock.app, name="clock")
forecast.register(app)
rehearse.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
