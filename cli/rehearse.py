"""``cspguard rehearse --days 30 [--payments FILE.csv]``: run the coming weeks on a throwaway copy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.collections import EnvFile, JsonFlag, _money, err, fail, out

Payments = Annotated[Path | None, typer.Option(
    "--payments", help="CSV of future payments: date,customer_id,amount,currency[,invoice_id].")]


def rehearse(days: Annotated[int, typer.Option("--days", min=1, max=90, help="Days to rehearse (1-90).")] = 30,
             payments: Payments = None, json_out: JsonFlag = False, env_file: EnvFile = None) -> None:
    """Copy the current portfolio into a throwaway local stack and advance it day by day with the real sweeps,
    notices, fraud scans and your scripted payments; report what was sent, suspended and reactivated. Nothing
    real is touched (the source is only read)."""
    import os

    from devtools.rehearse import RehearsalError, read_payments
    from devtools.rehearse import rehearse as run
    from shared.settings import SettingsError, load_settings

    if env_file is not None:
        from dotenv import dotenv_values

        if not env_file.is_file():
            raise fail(f"env file not found: {env_file}")
        os.environ.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    try:
        settings = load_settings()
        scripted = read_payments(payments) if payments else []
        result = run(settings, days, scripted, say=lambda line: err.print(line, highlight=False, soft_wrap=True))
    except (RehearsalError, SettingsError, OSError) as exc:
        raise fail(str(exc)) from None
    if json_out:
        typer.echo(result.model_dump_json(indent=2))
        return
    table = Table(title=f"rehearsal: {days} days over {result.customers} customers ({result.subscriptions} "
                        "subscriptions), on a throwaway copy")
    for column in ("day", "sweep", "e-mails", "suspended", "reactivated", "payments", "overdue at stake"):
        table.add_column(column)
    for d in result.days:
        table.add_row(str(d.day), d.sweep, "\n".join(f"{n} x {k}" for k, n in d.notices.items()) or "-",
                      "\n".join(d.suspended) or "-", "\n".join(d.reactivated) or "-", "\n".join(d.payments) or "-",
                      _money(d.overdue_suspended))
    out.print(table)
    out.print("assumes: " + "; ".join(result.assumptions), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("rehearse")(rehearse)
