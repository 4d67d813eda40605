"""``cspguard pc``: look at Partner Center through the app's own client and settings.

Settings come from shared.settings (CSPGUARD_PC_* environment variables or app settings), a
KEY=VALUE file given with ``--env-file`` (the local stack's ``var/stack.env``), or a
``local.settings.json`` given with ``--settings-file``. Storage is never needed. Failures print one
clear line, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from cli.common import EnvFile, EnvFileError, apply_env_file, print_error
from shared.partner_center import (
    AuthError,
    Customer,
    PartnerCenterClient,
    PartnerCenterError,
    Subscription,
    TransportError,
    ms_correlation_id,
)
from shared.settings import Settings, SettingsError, load_settings

app = typer.Typer(help="Partner Center: customers and subscriptions.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)
T = TypeVar("T")

SettingsFile = Annotated[
    Path | None,
    typer.Option("--settings-file", help="A local.settings.json whose Values override the environment."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.callback()
def options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every Partner Center call.")] = False,
) -> None:
    """Quiet by default: retries are expected; only the outcome matters on the command line."""
    logger = logging.getLogger("cspguard.partner_center")
    logger.setLevel(logging.INFO if verbose else logging.ERROR)
    if verbose and not logger.handlers:
        logger.addHandler(RichHandler(console=err, show_path=False))


def settings_from(file: Path | None, *, require_storage: bool = False) -> Settings:
    """The environment's settings, with a local.settings.json's non-empty Values taking precedence.

    Storage is required only by commands that read it (``cspguard fraud ...``), not by ``pc``.
    """
    if file is None:
        return load_settings(require_storage=require_storage)
    try:
        values = json.loads(file.read_text(encoding="utf-8")).get("Values", {})
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read {file}: {exc}") from None
    return load_settings(
        require_storage=require_storage, **{k: v for k, v in values.items() if v not in ("", None)}
    )


def explain(exc: BaseException) -> str:
    """One line a person can act on."""
    if isinstance(exc, SettingsError):
        return str(exc)
    if isinstance(exc, AuthError):
        return f"authentication failed: {exc} (check CSPGUARD_PC_TENANT_ID/CLIENT_ID/CLIENT_SECRET)"
    if isinstance(exc, TransportError):
        return (
            f"cannot reach Partner Center: {exc} (check CSPGUARD_PC_BASE_URL, CSPGUARD_PC_AUTHORITY_HOST, "
            "CSPGUARD_PC_CA_BUNDLE and the network)"
        )
    return f"Partner Center error: {exc}"


def run(
    settings_file: Path | None, job: Callable[[PartnerCenterClient], Awaitable[T]], env_file: Path | None = None
) -> T:
    """Build the client, run one job, close; exit 1 with a message on any expected failure."""

    async def go() -> T:
        client = PartnerCenterClient.from_settings(settings_from(settings_file))
        async with client:
            return await job(client)

    try:
        apply_env_file(env_file)
        return asyncio.run(go())
    except EnvFileError as exc:
        print_error(str(exc))
        raise typer.Exit(1) from None
    except (SettingsError, PartnerCenterError) as exc:
        print_error(explain(exc))
        raise typer.Exit(1) from None


def dump(models: list[Customer] | list[Subscription]) -> str:
    return json.dumps(
        [m.model_dump(mode="json", by_alias=True) for m in models], indent=2, ensure_ascii=False
    )


@app.command()
def customers(json_out: JsonFlag = False, settings_file: SettingsFile = None, env_file: EnvFile = None) -> None:
    """List every customer."""

    async def job(client: PartnerCenterClient) -> list[Customer]:
        return [c async for c in client.iter_customers()]

    found = run(settings_file, job, env_file)
    if json_out:
        typer.echo(dump(found))
        return
    table = Table(title=f"{len(found)} customers")
    for column in ("id", "name", "domain", "relationship"):
        table.add_column(column)
    for c in found:
        table.add_row(
            c.id,
            c.company_profile.company_name or "",
            c.company_profile.domain or "",
            c.relationship_to_partner or "",
        )
    out.print(table)


@app.command()
def subscriptions(
    customer: Annotated[str, typer.Argument(help="Customer id (tenant id).")],
    json_out: JsonFlag = False,
    settings_file: SettingsFile = None,
    env_file: EnvFile = None,
) -> None:
    """List a customer's subscriptions (add-ons included, marked with their parent)."""

    async def job(client: PartnerCenterClient) -> list[Subscription]:
        return await client.list_subscriptions(customer)

    found = run(settings_file, job, env_file)
    if json_out:
        typer.echo(dump(found))
        return
    table = Table(title=f"{len(found)} subscriptions of {customer}")
    for column in ("id", "offer", "qty", "status", "parent", "billing"):
        table.add_column(column)
    style: dict[str, Any] = {"active": "green", "suspended": "yellow", "deleted": "red"}
    for s in found:
        status = str(s.status)
        colour = style.get(status.lower())
        table.add_row(
            s.id,
            s.offer_name or s.offer_id or "",
            "" if s.quantity is None else str(s.quantity),
            f"[{colour}]{status}[/{colour}]" if colour else status,
            s.parent_subscription_id or "",
            s.billing_type or "",
        )
    out.print(table)


@app.command("correlation-id")
def correlation_id(
    journey: Annotated[str, typer.Argument(help="A correlation id from csp-guard's audit, case or logs.")],
) -> None:
    """The MS-CorrelationId Partner Center saw for a journey: quote it in a Partner Center support ticket."""
    typer.echo(ms_correlation_id(journey))
