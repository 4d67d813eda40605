"""``cspguard fraud evidence | service-request | ticket | ticket-status``: the 21Vianet service request.

21Vianet takes suspicious-activity reports only through the Partner Center portal (Support -> Customer requests ->
New request). These commands give the operator the evidence pack to paste and attach, and record the ticket
21Vianet opened and its status on the case (audited with ``--actor``). Storage settings as for every command
that reads storage: the environment, or ``--env-file var/stack.env``.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from cli.collections import EnvFile, _context, err, fail, guarded

T = TypeVar("T")
ActorOption = Annotated[str | None, typer.Option("--actor", help="Who is acting (recorded in the audit log); "
                                                                 "default: your login name.")]
NoteOption = Annotated[str, typer.Option("--note", help="A note kept with the update.")]
CaseArg = Annotated[str, typer.Argument(help="The case id (fraud-<customer>-<time>) or the customer's tenant id.")]


def _actor(value: str | None) -> str:
    name = value or getpass.getuser()
    if not name:
        raise fail("say who is acting: --actor NAME")
    return name if name.startswith("operator:") else f"operator:{name}"


def _run(job: Callable[[], T]) -> T:
    from shared.services.errors import ConflictError, NotFoundError

    def wrapped() -> T:
        try:
            return job()
        except NotFoundError as exc:
            raise fail(str(exc.args[0]) if exc.args else "not found") from None
        except ConflictError as exc:
            raise fail(str(exc)) from None

    return guarded(wrapped)


def evidence(case: CaseArg,
             out_file: Annotated[Path | None, typer.Option("--out", help="Write the pack to this file "
                                                                          "(default: print it).")] = None,
             fmt: Annotated[str, typer.Option("--format", help="txt (paste-ready, zh-CN then English) or json.")]
             = "txt",
             lang: Annotated[str, typer.Option("--lang", help="both, zh-CN or en (txt only).")] = "both",
             env_file: EnvFile = None) -> None:
    """The evidence pack to file with 21Vianet in the Partner Center portal, as it stands now."""
    from shared.clock import utcnow
    from shared.services.fraud import case_ref, find_case
    from shared.services.fraud.srpack import LANGUAGES, EvidenceDocument, evidence_document

    if fmt not in ("txt", "json"):
        raise fail("--format must be txt or json")
    if lang not in ("both", *LANGUAGES):
        raise fail("--lang must be both, zh-CN or en")

    def job() -> EvidenceDocument:
        ctx = _context(env_file)
        cid, case_id = case_ref(case)
        rec = find_case(ctx.fraud, cid, case_id)
        if rec is None:
            raise fail(f"no fraud case {case}")
        return asyncio.run(evidence_document(ctx, rec, utcnow()))

    doc = _run(job)
    text = doc.as_json() if fmt == "json" else doc.as_text(LANGUAGES if lang == "both" else (lang,))
    if out_file is None:
        typer.echo(text)
    else:
        out_file.write_text(text, encoding="utf-8")
        err.print(f"wrote {out_file} (case {doc.case_id}, containment {doc.containment_status})", highlight=False)
    if not doc.containment_known:
        err.print("note: Partner Center has not confirmed the containment outcome yet; the pack says so. "
                  "Generate it again once the case shows the outcome.", highlight=False, soft_wrap=True)
    if doc.partner_center_problem:
        err.print(f"note: Partner Center could not be read ({doc.partner_center_problem}); statuses show as unknown",
                  highlight=False, soft_wrap=True)
    for i, step in enumerate(doc.portal_steps, 1):
        err.print(f"{i}. {step}", highlight=False, soft_wrap=True)


def service_request(case: CaseArg, note: NoteOption = "", actor: ActorOption = None,
                    env_file: EnvFile = None) -> None:
    """Raise the case's service request (once per case; a repeat adds the note)."""
    from shared.services.fraud import case_ref, raise_service_request

    def job() -> tuple[str, bool]:
        ctx = _context(env_file)
        cid, _ = case_ref(case)
        record, queued = raise_service_request(ctx, cid, _actor(actor), note)
        return record.status, queued

    status, queued = _run(job)
    typer.echo(f"service request {'queued' if queued else 'already raised'} (status {status})")


def ticket(case: CaseArg, number: Annotated[str, typer.Argument(help="The ticket number 21Vianet gave.")],
           note: NoteOption = "", actor: ActorOption = None, env_file: EnvFile = None) -> None:
    """Record the 21Vianet ticket number after filing the pack in the portal."""
    from shared.services.fraud import case_ref, record_ticket

    def job() -> str:
        ctx = _context(env_file)
        cid, case_id = case_ref(case)
        sr = record_ticket(ctx, cid, number, _actor(actor), note, case_id=case_id)
        return f"ticket {sr.ticket_number} recorded (status {sr.ticket_status}) by {sr.ticket_recorded_by}"

    typer.echo(_run(job))


def ticket_status(case: CaseArg,
                  status: Annotated[str, typer.Argument(help="open, attention_needed or closed, as the portal shows.")],
                  note: NoteOption = "", actor: ActorOption = None, env_file: EnvFile = None) -> None:
    """Record the 21Vianet ticket's status."""
    from shared.services.fraud import case_ref, track_update

    def job() -> str:
        ctx = _context(env_file)
        cid, case_id = case_ref(case)
        sr = track_update(ctx, cid, status, note, _actor(actor), case_id=case_id)
        return f"ticket {sr.ticket_number}: {sr.ticket_status}"

    typer.echo(_run(job))


def register(app: typer.Typer) -> None:
    app.command("evidence")(evidence)
    app.command("service-request")(service_request)
    app.command("ticket")(ticket)
    app.command("ticket-status")(ticket_status)
