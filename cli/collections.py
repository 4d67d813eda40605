"""``cspguard preview | diff-policy | import-ar | policy-doc | status``: collections for operators.

Settings come from the environment like the app's (``AzureWebJobsStorage``, ``CSPGUARD_POLICY_FILE``...);
``--env-file var/stack.env`` loads the local stack's KEY=VALUE file first. Expected failures print one
line (or one line per CSV problem) and exit 1, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from cli.common import EnvFile, EnvFileError, apply_env_file, print_error
from shared.clock import utcnow
from shared.collections import PolicyError
from shared.settings import SettingsError

if TYPE_CHECKING:
    from shared.context import AppContext

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
AtOption = Annotated[
    str | None, typer.Option("--at", help="Evaluate at this date (YYYY-MM-DD: that day's sweep, at the sweep's time of "
                                   "day) or ISO time; default now.")
]


class CliError(Exception):
    """An expected failure: printed as one line, exit status 1."""


def fail(message: str) -> typer.Exit:
    print_error(message)
    return typer.Exit(1)


def _context(env_file: Path | None) -> AppContext:
    from shared.context import get_context

    try:
        apply_env_file(env_file)
    except EnvFileError as exc:
        raise CliError(str(exc)) from None
    ctx = get_context()
    s = ctx.settings
    if s.storage_connection is None and not (s.storage_table_uri and s.storage_queue_uri):
        raise CliError("no storage configured: set AzureWebJobsStorage (for the local stack: "
                       "`set -a; . var/stack.env; set +a`, or --env-file var/stack.env)")
    return ctx


def _when(at: str | None) -> datetime:
    from shared.context import get_context
    from shared.services.forecast import preview_moment

    try:
        return preview_moment(get_context(), at) or utcnow()
    except ValueError as exc:
        raise CliError(f"--at: {at!r} is not YYYY-MM-DD or an ISO 8601 time in the accepted window ({exc})") \
            from None


def guarded(job: Callable[[], T]) -> T:
    """Run a command body; expected failures become one line on stderr and exit 1."""
    from azure.core.exceptions import AzureError

    from shared.services.operators import NotFoundError
    from shared.storage.errors import StorageError

    try:
        return job()
    except (CliError, SettingsError, PolicyError) as exc:
        raise fail(str(exc)) from None
    except NotFoundError as exc:
        raise fail(str(exc.args[0])) from None
    except (StorageError, AzureError) as exc:  # the adapters raise StorageError; AzureError for the health probe
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise fail(f"storage: {first} (is Azurite / the storage account reachable? check AzureWebJobsStorage)") \
            from None


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _money(amounts: dict[str, Any]) -> str:
    return ", ".join(f"{a} {c}" for c, a in sorted(amounts.items())) or "-"


def preview(at: AtOption = None, json_out: JsonFlag = False,
            all_customers: Annotated[bool, typer.Option("--all", help="Include customers with nothing to do.")]
            = False, env_file: EnvFile = None) -> None:
    """What a sweep would do now (or --at a date); nothing is stored or sent."""
    from shared.services.forecast import preview_guards
    from shared.services.operators import decision_row, portfolio_preview

    errors: dict[str, str] = {}

    def job() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        ctx = _context(env_file)
        when = _when(at)
        decisions = portfolio_preview(ctx, when, errors=errors)
        guards = preview_guards(ctx, decisions, when)
        if not all_customers:
            decisions = [d for d in decisions if d.actions or d.pending_approval or d.blocked_by]
        decisions.sort(key=lambda d: (-d.severity, d.customer_id))
        return [decision_row(d) for d in decisions], guards

    rows, guards = guarded(job)
    for cid, problem in sorted(errors.items()):  # the rest of the portfolio is still shown
        typer.echo(f"cannot evaluate customer {cid}: {problem}", err=True)
    if json_out:
        _print_json(rows)
        return
    table = Table(title=f"{len(rows)} customers" + ("" if all_customers else " with something to do"))
    for column in ("customer", "stage", "actions", "blocked by", "overdue", "days past due", "next review"):
        table.add_column(column)
    for r in rows:
        actions = [*r["actions"], *(f"approval:{s}" for s in r["pending_approval"])]
        table.add_row(r["customer_id"], r["stage"] or "-", "\n".join(actions) or "-",
                      "\n".join(r["blocked_by"]) or "-", _money(r["overdue"]),
                      "-" if r["days_past_due"] is None else str(r["days_past_due"]),
                      (r["next_review_at"] or "-")[:16])
    out.print(table)
    halt = " - the run would HALT for approval (blast radius)" if guards["blast_radius_halts"] else ""
    out.print(f"guards: payment feed {guards['payment_feed']}; {guards['would_suspend']} suspension(s) due{halt}; "
              f"{len(guards['refused_by_guards'])} refused by guards", highlight=False, soft_wrap=True)


def diff_policy(old: Annotated[Path, typer.Argument(help="Current policy YAML.")],
                new: Annotated[Path, typer.Argument(help="Proposed policy YAML.")],
                at: AtOption = None, json_out: JsonFlag = False, env_file: EnvFile = None) -> None:
    """How decisions across the current portfolio would change from OLD to NEW (harsher first)."""
    from shared.services.operators import policy_diff
    from shared.services.policies import load_policy_file

    errors: dict[str, str] = {}

    def job() -> list[dict[str, Any]]:
        old_policy, new_policy = load_policy_file(old), load_policy_file(new)
        ctx = _context(env_file)
        return [c.model_dump(mode="json") for c in policy_diff(ctx, old_policy, new_policy, _when(at), errors)]

    changes = guarded(job)
    for cid, problem in sorted(errors.items()):  # left out of the diff; the rest of the portfolio is compared
        typer.echo(f"cannot evaluate customer {cid}: {problem}", err=True)
    if json_out:
        _print_json(changes)
        return
    table = Table(title=f"{len(changes)} customers whose decision changes ({old.name} -> {new.name})")
    for column in ("customer", "old stage", "new stage", "severity", "actions +", "actions -", "blocks +",
                   "blocks -"):
        table.add_column(column)
    for c in changes:
        delta = c["severity_delta"]
        colour = "red" if delta > 0 else "green" if delta < 0 else "white"
        table.add_row(c["customer_id"], c["old_stage"] or "-", c["new_stage"] or "-",
                      f"[{colour}]{delta:+d}[/{colour}]", "\n".join(c["actions_added"]) or "-",
                      "\n".join(c["actions_removed"]) or "-", "\n".join(c["blocked_added"]) or "-",
                      "\n".join(c["blocked_removed"]) or "-")
    out.print(table)


def import_ar(file: Annotated[Path, typer.Argument(help="AR export CSV (format: shared/services/ar_import.py).")],
              dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and count; send nothing.")] = False,
              source: Annotated[str, typer.Option("--source", help="Source name recorded on the events.")]
              = "ar-import",
              json_out: JsonFlag = False, env_file: EnvFile = None) -> None:
    """Import an accounts-receivable export as payment events (re-importing the same file is a no-op)."""
    from shared.services.ar_import import ArImportError, ar_events, summarize
    from shared.services.payments import enqueue_events

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    try:
        events = ar_events(text, str(file), utcnow())
    except ArImportError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)  # unwrapped: file:line: column: problem stays greppable
        raise fail(f"{len(exc.problems)} problem(s) in {file}; nothing was imported") from None
    summary = summarize(events)
    if not dry_run:

        def job() -> list[str]:
            return enqueue_events(_context(env_file), events, source)

        try:
            guarded(job)
        except typer.Exit:
            err.print("events already sent are harmless: re-run the same import once storage is reachable",
                      soft_wrap=True)
            raise
    summary = {**summary, "dry_run": dry_run, "source": source, "queued": 0 if dry_run else len(events)}
    if json_out:
        _print_json(summary)
        return
    verb = "would queue" if dry_run else "queued"
    out.print(f"{file}: {summary['invoices']} invoices of {summary['customers']} customers; {verb} "
              f"{summary['events']} payment events ({', '.join(f'{n} {k}' for k, n in summary['by_type'].items())})",
              highlight=False)


def policy_doc(language: Annotated[str, typer.Option("--language", help="en or zh-CN.")] = "en",
               policy: Annotated[Path | None, typer.Option("--policy", help="Policy YAML; default the app's.")]
               = None,
               out_file: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")]
               = None) -> None:
    """Render the customer-facing collections policy (Markdown) from the policy file."""
    from shared.collections import render_policy_document
    from shared.services.policies import load_policy_file
    from shared.settings import load_settings

    if language not in ("en", "zh-CN"):
        raise fail(f"--language: {language!r} is not one of en, zh-CN")

    def job() -> str:
        try:
            path = policy or load_settings(require_storage=False).policy_file
        except SettingsError as exc:
            raise CliError(f"{exc}\n(or pass --policy FILE to render a policy file without app settings)") from None
        return render_policy_document(load_policy_file(path), language)  # type: ignore[arg-type]

    document = guarded(job)
    if out_file is None:
        typer.echo(document)
        return
    try:
        out_file.write_text(document, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {out_file}: {exc}") from None
    err.print(f"wrote {out_file}", highlight=False)


def status(customer: Annotated[str, typer.Argument(help="Customer id.")], json_out: JsonFlag = False,
           at: AtOption = None, env_file: EnvFile = None) -> None:
    """A customer's ledger, case, notices, suspensions by csp-guard, decision with reasons and history."""
    from shared.domain import InvalidCustomerId, normalise_customer_id
    from shared.services.operators import customer_status

    try:
        customer = normalise_customer_id(customer)
    except InvalidCustomerId as exc:
        raise fail(str(exc)) from None
    data = guarded(lambda: customer_status(_context(env_file), customer, _when(at)))
    if json_out:
        _print_json(data)
        return
    _print_status(data)


def _print_status(data: dict[str, Any]) -> None:
    profile = data["profile"]
    out.print(f"[bold]{data['customer_id']}[/bold] {profile.get('name') or ''} "
              f"({profile.get('contact_email') or 'no contact'}, {profile.get('language')})", highlight=False)
    invoices = Table(title="Ledger")
    for column in ("invoice", "due", "amount", "paid", "credited", "open", "disputed"):
        invoices.add_column(column)
    for i in data["invoices"]:
        invoices.add_row(i["invoice_id"], i["due_date"], f"{i['amount']} {i['currency']}", str(i["paid"]),
                         str(i["credited"]), str(i["open"]), str(i["disputed"]))
    out.print(invoices)
    if data["unallocated"]:
        out.print(f"unallocated credit: {_money(data['unallocated'])}", highlight=False)
    case = data["case"]
    out.print("case: " + ("none" if case is None else
                          f"{case['case_id']} opened {case['opened_at']}, policy {case['policy_version']}"
                          + (f", closed {case['closed_at']}" if case.get("closed_at") else "")),
              highlight=False, markup=False)
    for n in data["notices_sent"]:
        out.print(f"notice sent: {n['stage_id']} at {n['sent_at']}", highlight=False, markup=False)
    for s in data["suspended_by_csp_guard"]:
        out.print(f"suspended by csp-guard: subscription {s['subscription_id']} ({s['reason']}: {s['detail']}) "
                  f"at {s['suspended_at']} by {s['suspended_by']}", highlight=False, markup=False)
    d = data["decision"]
    if d is not None:
        out.print(f"decision: stage {d['stage'] or '-'}; actions "
                  f"{', '.join(a['kind'] + ':' + str(a['stage_id']) for a in d['actions']) or 'none'}; "
                  f"overdue {_money(d['snapshot']['overdue'])}; days past due {d['snapshot']['days_past_due']}",
                  highlight=False, markup=False)
        for r in (*d["reasons"], *d["blocked_by"]):
            out.print(f"  {r['code']}: {r['text']}", highlight=False, markup=False)
    if data.get("evaluation_error"):
        out.print(f"decision: none, {data['evaluation_error']}", highlight=False, markup=False)
    history = Table(title="Recent history")
    for column in ("at", "action", "actor", "reason"):
        history.add_column(column)
    for e in data["history"]:
        history.add_row(str(e.get("at"))[:19], str(e.get("action")), str(e.get("actor")), str(e.get("reason")))
    out.print(history)


def register(app: typer.Typer) -> None:
    """Add the collections commands at the top level of ``cspguard``."""
    app.command("preview")(preview)
    app.command("diff-policy")(diff_policy)
    app.command("import-ar")(import_ar)
    app.command("policy-doc")(policy_doc)
    app.command("status")(status)
