"""``cspguard forecast --days 30 [--json | --csv]``: the next sweeps, day by day, from today's data."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from cli.collections import CliError, EnvFile, JsonFlag, _context, _money, _print_json, guarded, out
from shared.collections.forecast import Item

CsvFlag = Annotated[bool, typer.Option("--csv", help="Print CSV: one row per day, customer and action.")]
Days = Annotated[int, typer.Option("--days", min=1, max=90, help="How many daily sweeps to forecast (1-90).")]


def forecast(days: Days = 30, json_out: JsonFlag = False, csv_out: CsvFlag = False, env_file: EnvFile = None) -> None:
    """Per day: who gets each notice, who would be suspended (after every gate and guard a real sweep applies),
    who would be refused and why, and the overdue amounts concerned. Read-only."""
    from shared.services.forecast import Forecast, collections_forecast, csv_rows, to_csv

    if json_out and csv_out:
        raise typer.BadParameter("choose --json or --csv")

    def job() -> Forecast:
        try:
            return collections_forecast(_context(env_file), days)
        except ValueError as exc:
            raise CliError(str(exc)) from None

    result = guarded(job)
    if json_out:
        _print_json(result.model_dump(mode="json"))
        return
    if csv_out:
        typer.echo(to_csv(csv_rows(result)), nl=False)
        return
    table = Table(title=f"forecast: {days} sweeps over {result.customers} customers (policy {result.policy_version})")
    for column in ("day", "notices", "suspended", "overdue at stake", "refused (why)", "run"):
        table.add_column(column)
    for day in result.days:
        notices = "\n".join(f"{stage}: {', '.join(_who(i) for i in items)}" for stage, items in day.notices.items())
        refused = "\n".join(f"{_who(i)} ({' '.join(i.reasons)})" for i in day.refused)
        table.add_row(f"{day.date} {day.at.astimezone(ZoneInfo(result.timezone)).strftime('%H:%M')}", notices or "-",
                      "\n".join(_who(i) for i in day.suspended) or "-",
                      _money(day.overdue_total(day.suspended)), refused or "-",
                      "HALT: " + day.halted if day.halted else "ok")
    out.print(table)
    out.print(f"guards now: payment feed {result.guards['payment_feed']}", highlight=False, soft_wrap=True)
    out.print("assumes: " + "; ".join(result.assumptions), highlight=False, soft_wrap=True)


def _who(item: Item) -> str:
    return f"{item.name} ({item.customer_id[:8]})" if item.name else item.customer_id


def register(app: typer.Typer) -> None:
    app.command("forecast")(forecast)
