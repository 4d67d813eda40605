"""``cspguard suspension-deadlines``: suspended subscriptions near a point of no return.

Lists what the sweep timer's daily check finds (data-deletion date, term end, Azure reactivation limit within the
policy's ``suspension.alert_days_before``); ``--send`` alerts the team now, once per deadline.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from cli.collections import EnvFile, JsonFlag, _context, _print_json, guarded, out


def suspension_deadlines(send: Annotated[bool, typer.Option("--send", help="Alert the team now (once per "
                                                                             "deadline).")] = False,
                         json_out: JsonFlag = False, env_file: EnvFile = None) -> None:
    """Suspended subscriptions near their data-deletion date, term end or Azure reactivation limit."""
    from shared.services.deadlines import DeadlineReport, check_suspension_deadlines

    def job() -> DeadlineReport:
        return asyncio.run(check_suspension_deadlines(_context(env_file), send=send))

    report = guarded(job)
    if json_out:
        _print_json(report.model_dump(mode="json"))
        return
    table = Table(title=f"{len(report.due)} deadline(s) among {report.suspended} suspension(s) by csp-guard"
                        + (f"; {report.alerted} alert(s) sent" if send else ""))
    for column in ("customer", "subscription", "deadline", "on", "days left", "Partner Center status"):
        table.add_column(column)
    for d in report.due:
        sub = f"{d['name']} (Azure subscription {d['entitlement_id']})" if d["entitlement_id"] else d["name"]
        table.add_row(d["customer_id"], sub, d["kind"], d["on"], str(d["days_left"]), d["status"])
    out.print(table)
    for e in report.errors:
        out.print(f"[yellow]warning:[/yellow] {e}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("suspension-deadlines")(suspension_deadlines)
