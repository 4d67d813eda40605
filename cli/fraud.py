"""``cspguard fraud``: replay stored usage history through a rules file, and list fraud cases.

Settings come from the environment, ``--env-file var/stack.env`` or ``--settings-file``, like ``cspguard pc``;
storage is read directly, so it must be configured. Errors print one line, never a traceback.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cli.collections import guarded
from cli.common import EnvFile, EnvFileError, apply_env_file, print_error
from cli.pc import JsonFlag, SettingsFile, settings_from
from shared.clock import for_file
from shared.settings import Settings, SettingsError

app = typer.Typer(help="Fraud and misuse: backtest rules, list cases.", no_args_is_help=True)
out = Console()


def _settings(file: Path | None, env_file: Path | None) -> Settings:
    try:
        apply_env_file(env_file)
        return settings_from(file, require_storage=True)
    except (EnvFileError, SettingsError) as exc:
        print_error(str(exc))
        raise typer.Exit(2) from None


def _day(value: str | None, default: date) -> date:
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        print_error(f"not a date (YYYY-MM-DD): {value}")
        raise typer.Exit(2) from None


@app.command()
def backtest(
    rules: Annotated[Path | None, typer.Option("--rules", help="Rules file (default: the configured one).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First usage day (default: 30 days ago).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last usage day (default: yesterday).")] = None,
    as_json: JsonFlag = False,
    settings_file: SettingsFile = None,
    env_file: EnvFile = None,
) -> None:
    """What a rules file would have flagged over the stored history, per rule."""
    from shared.context import AppContext
    from shared.fraud import History, RulesError, parse_rules
    from shared.fraud import backtest as run_backtest
    from shared.services.fraud.scan import profile_for

    settings = _settings(settings_file, env_file)
    path = rules or settings.fraud_rules_file
    try:
        parsed = parse_rules(path.read_text(encoding="utf-8"))
    except (OSError, RulesError) as exc:
        print_error(f"cannot use rules {path}: {exc}")
        raise typer.Exit(2) from None
    yesterday = for_file(settings.local_clock_file).now().date() - timedelta(days=1)
    first, last = _day(start, yesterday - timedelta(days=29)), _day(end, yesterday)
    if first > last:
        print_error("--from is after --to")
        raise typer.Exit(2)
    ctx = AppContext(settings)

    def load() -> tuple[History, dict[str, Any]]:
        docs = list(ctx.fraud.history.query())
        history = History(customers={d.customer_id: d.series for d in docs})
        created = {d.customer_id: d.subscriptions_created for d in docs}
        return history, {cid: p for cid in history.customers
                         if (p := profile_for(ctx, cid, parsed, created.get(cid))) is not None}

    history, profiles = guarded(load)
    report = run_backtest(history, profiles, parsed, first, last)
    if as_json:
        out.print_json(report.model_dump_json())
        return
    table = Table(title=f"rules {report.rules_version}: {first} .. {last}, {report.assessments} assessments "
                        f"over {len(history.customers)} customers")
    for col in ("rule", "shadow", "hits", "customers", "first flagged"):
        table.add_column(col)
    for r in (*report.rules, report.overall):
        firsts = ", ".join(f"{c[:8]}:{d}" for c, d in list(r.first_flagged.items())[:3])
        table.add_row(r.rule_id, "yes" if r.shadow else "", str(r.hits), str(len(r.customers)), firsts)
    out.print(table)
    out.print("outcomes: " + ", ".join(f"{k}={v}" for k, v in report.outcomes.items()))


@app.command()
def cases(
    status: Annotated[str, typer.Option("--status", help="open (open+investigating), resolved or all.")] = "open",
    as_json: JsonFlag = False,
    settings_file: SettingsFile = None,
    env_file: EnvFile = None,
) -> None:
    """Fraud cases, newest change first."""
    from shared.context import AppContext
    from shared.services.fraud.cases import list_cases

    if status not in ("open", "resolved", "all"):
        print_error("--status must be open, resolved or all")
        raise typer.Exit(2)
    ctx = AppContext(_settings(settings_file, env_file))
    records = guarded(lambda: list_cases(ctx, None if status == "open" else status))
    if as_json:
        out.print_json(json.dumps([r.model_dump(mode="json") for r in records]))
        return
    table = Table(title=f"{len(records)} fraud case(s)")
    for col in ("customer", "case", "status", "outcome", "suspended", "service request", "updated"):
        table.add_column(col)
    for r in records:
        sr = r.service_request
        request = "-" if sr is None else sr.status + (f" #{sr.ticket_number}" if sr.ticket_number else "")
        pending = " (approval pending)" if r.pending and r.pending.status == "pending" else ""
        table.add_row(r.customer_name or r.case.customer_id, r.case.case_id, r.case.status.value,
                      r.case.outcome.value + pending,
                      ", ".join(r.case.suspended) or "-", request, r.case.updated_at.isoformat())
    out.print(table)


def _change(text: str) -> dict[str, object]:
    """``FROM:TO[:FACTOR[:REGION,REGION]]`` -> a planned change."""
    parts = text.split(":")
    if len(parts) < 2:
        raise typer.BadParameter(f"{text!r}: expected FROM:TO[:FACTOR[:REGIONS]] (dates as YYYY-MM-DD)")
    change: dict[str, object] = {"starts_on": parts[0], "ends_on": parts[1]}
    if len(parts) > 2 and parts[2]:
        change["expected_factor"] = float(parts[2])
    if len(parts) > 3 and parts[3]:
        change["regions"] = [r.strip() for r in parts[3].split(",") if r.strip()]
    return change


@app.command()
def baseline(
    customer_id: Annotated[str, typer.Argument(help="Customer (tenant) id.")],
    monthly: Annotated[str | None, typer.Option("--monthly", help="Expected monthly spend, e.g. 30000.")] = None,
    prepayment: Annotated[str | None, typer.Option("--prepayment", help="Prepaid amount.")] = None,
    currency: Annotated[str, typer.Option("--currency")] = "CNY",
    change: Annotated[list[str] | None, typer.Option(
        "--change", help="Planned change FROM:TO[:FACTOR[:REGION,...]], repeatable; replaces the list.")] = None,
    onboarded: Annotated[str | None, typer.Option("--onboarded", help="Onboarding date (YYYY-MM-DD).")] = None,
    actor: Annotated[str, typer.Option("--actor", help="Who declares it (recorded).")] = "cli",
    settings_file: SettingsFile = None,
    env_file: EnvFile = None,
) -> None:
    """Declare what detection should expect of a customer (queued as a customer.updated event)."""
    from shared.context import AppContext
    from shared.services.fraud.baseline import InvalidBaseline, declare_baseline

    fields: dict[str, object] = {}
    if monthly is not None:
        fields["expected_monthly_spend"] = {"amount": monthly, "currency": currency}
    if prepayment is not None:
        fields["prepayment"] = {"amount": prepayment, "currency": currency}
    if change is not None:
        fields["planned_changes"] = [_change(c) for c in change]
    if onboarded is not None:
        fields["onboarded_on"] = onboarded
    try:
        event = declare_baseline(AppContext(_settings(settings_file, env_file)), customer_id.lower(), fields, actor)
    except InvalidBaseline as exc:
        print_error(f"not accepted: {exc}")
        raise typer.Exit(2) from None
    out.print_json(json.dumps({"accepted": event.event_id, "event": event.model_dump(mode="json")}))
