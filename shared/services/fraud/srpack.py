"""The evidence pack as 21Vianet reads it: the SERVICE_REQUEST template rendered in zh-CN and English, as text to
paste into the Partner Center portal's support request form and as an attachment-ready file.

The pack is rendered from the case as it is now (its verified containment outcome, never what was only asked
for) plus the customer's domain and subscription statuses read live from Partner Center; if Partner Center cannot
be read the pack says "unknown" rather than guessing.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.clock import utcnow
from shared.fraud import ContainmentFacts, EvidencePack, evidence_pack
from shared.fraud.cases import Case, Containment, ContainmentStatus, TimelineEntry
from shared.services.fraud.cases import CaseNotFound
from shared.services.fraud.store import CaseRecord
from shared.services.fraud.tickets import find_case

if TYPE_CHECKING:
    from shared.ports import Ports
    from shared.settings import Settings

log = logging.getLogger("cspguard.fraud.srpack")
LANGUAGES: tuple[Literal["zh-CN"], Literal["en"]] = ("zh-CN", "en")
PORTAL_STEPS = (
    "Sign in to Partner Center operated by 21Vianet with an account that may raise support requests.",
    "Support -> Customer requests -> New request; choose the customer (tenant ID in the pack).",
    "Title: the pack's title; description: paste the pack's text (zh-CN, then English); attach the pack file.",
    "Submit, then record 21Vianet's ticket number on the case: "
    "POST /api/fraud/cases/{customer_id}/service-request/ticket or `cspguard fraud ticket {case} NUMBER`.",
)


def _figures(figures: dict[str, Any]) -> tuple[str, str]:
    limits = {k: v for k, v in figures.items() if any(t in k for t in ("threshold", "min_", "max_", "limit"))}
    seen = {k: v for k, v in figures.items() if k not in limits}
    return (", ".join(f"{k}={v}" for k, v in seen.items()) or "-",
            ", ".join(f"{k}={v}" for k, v in limits.items()) or "-")


def signal_rows(case: Case, with_time: bool = True) -> list[dict[str, Any]]:
    """Signals of a case as the notification templates expect them."""
    rows = []
    for h in case.hits:
        figure, threshold = _figures(dict(h.signal.figures))
        row = {"rule_id": h.rule_id, "description": h.signal.why, "figure": figure, "threshold": threshold}
        if with_time:
            row["observed_at"] = case.first_signal_at.isoformat()
        rows.append(row)
    return rows


class LiveDetails(BaseModel):
    """What Partner Center said about the customer when the pack was generated."""

    model_config = ConfigDict(frozen=True)

    domain: str = ""
    subscriptions: dict[str, tuple[str, str]] = {}  # id -> (name, status)
    problem: str = ""  # why Partner Center could not be read (the pack then shows "unknown")


async def live_details(ctx: Ports, customer_id: str) -> LiveDetails:
    from shared.partner_center import PartnerCenterError

    try:
        pc = ctx.partner_center()
        customer = await pc.get_customer(customer_id)
        subs = {s.id: (s.friendly_name or s.offer_name or s.id, str(s.status.value))
                for s in await pc.list_subscriptions(customer_id)}
        return LiveDetails(domain=customer.company_profile.domain or "", subscriptions=subs)
    except PartnerCenterError as exc:  # the pack still carries every id; statuses are shown as unknown
        log.warning("evidence pack for %s: Partner Center details unavailable: %s", customer_id, exc)
        return LiveDetails(problem=str(exc))


def _target(target: str, live: LiveDetails) -> dict[str, str]:
    """A containment target as the templates show it: an Azure subscription under its plan, or a subscription."""
    if "/" in target:
        plan, ent = target.split("/", 1)
        return {"kind": "azure", "id": ent, "plan": plan, "name": ent}
    return {"kind": "subscription", "id": target, "plan": "", "name": live.subscriptions.get(target, (target, ""))[0]}


def _containment(facts: ContainmentFacts, live: LiveDetails) -> dict[str, Any]:
    return {"status": facts.status.value, "detail": facts.detail or "-",
            "verified_at": facts.verified_at.isoformat() if facts.verified_at else "",
            "requested_at": facts.requested_at.isoformat() if facts.requested_at else "",
            "contained": [_target(t, live) for t in facts.contained],
            # each target not contained, with what Partner Center showed or answered for it
            "failed": [{**_target(t, live), "error": facts.errors.get(t) or "not verified"} for t in facts.failed]}


def _entry(e: TimelineEntry) -> dict[str, str]:
    return {"at": e.at.isoformat(), "kind": e.kind.value, "by": e.by, "text": e.text,
            "subscriptions": ", ".join(e.subscription_ids) or "-"}


def pack_context(settings: Settings, rec: CaseRecord, pack: EvidencePack, live: LiveDetails, language: str,
                 note: str = "", currency: str = "CNY") -> dict[str, Any]:
    """The SERVICE_REQUEST template's context (pure)."""
    from shared.notify import format_amount

    case = rec.case
    unknown = "未知" if language == "zh-CN" else "unknown"
    subs = [{"id": s, "name": live.subscriptions.get(s, (s, ""))[0],
             "status": live.subscriptions.get(s, ("", unknown))[1]} for s in pack.subscriptions]
    azure = [_target(a if "/" in a else f"/{a}", live) for a in pack.azure_subscriptions]
    return {
        "partner": {"name": settings.partner_name, "partner_id": settings.pc_tenant_id or "-",
                    "contact": settings.collections_contact},
        "customer": {"name": rec.customer_name or case.customer_id, "tenant_id": case.customer_id,
                     "domain": live.domain or "-"},
        "generated_at": pack.generated_at.isoformat(),
        "opened_at": pack.opened_at.isoformat(),
        "subscriptions": subs,
        "azure_subscriptions": azure,
        "usage": {"meters": ", ".join(pack.meters) or "-", "regions": ", ".join(pack.regions) or "-",
                  "amount_at_risk": format_amount(pack.amount_at_risk, currency, language)},
        "signals": [{**row, "day": h.signal.day.isoformat(),
                     "amount": format_amount(h.signal.amount_at_risk, currency, language)}
                    for row, h in zip(signal_rows(case), case.hits, strict=True)],
        "timeline": [_entry(e) for e in pack.timeline],
        "containment": _containment(pack.containment, live),
        "note": note,
        "reference": case.case_id,
    }


class EvidenceDocument(BaseModel):
    """The pack in both languages: ``title``/``text`` per language, paste-ready; ``as_text``/``as_json`` for files."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    customer_id: str
    generated_at: datetime
    containment_status: str
    containment_known: bool
    title: dict[str, str]
    text: dict[str, str]
    pack: dict[str, Any]
    portal_steps: tuple[str, ...] = PORTAL_STEPS
    partner_center_problem: str = ""

    def as_text(self, languages: tuple[str, ...] = LANGUAGES) -> str:
        parts = [f"{self.title[lang]}\n\n{self.text[lang]}" for lang in languages]
        return ("\n" + "=" * 72 + "\n\n").join(parts)

    def as_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2, default=str)

    def filename(self, ext: str) -> str:
        return f"csp-guard-evidence-{self.case_id}.{ext}"


def known_record(rec: CaseRecord) -> CaseRecord:
    """``rec`` with its case's containment as the pack must state it (see ``_known_case``)."""
    return rec.model_copy(update={"case": _known_case(rec)})


def _known_case(rec: CaseRecord) -> Case:
    """The case, with a containment that was sent to enforcement but has no recorded outcome yet counted as
    ``requested`` (cases whose containment state predates ``Case.containment`` carry only the enforcement keys)."""
    case = rec.case
    if case.containment.status is ContainmentStatus.NONE and rec.containment_keys and not case.suspended:
        return case.model_copy(update={"containment": Containment(status=ContainmentStatus.REQUESTED,
                                                                   targets=rec.requested_targets)})
    return case


def render_document(settings: Settings, rec: CaseRecord, live: LiveDetails, now: datetime, note: str = "",
                    currency: str = "CNY") -> EvidenceDocument:
    """Render the pack in zh-CN and English (pure apart from template files)."""
    from shared.notify import TemplateId, render_notice

    rec = known_record(rec)
    pack = evidence_pack(rec.case, now, rec.customer_name)
    titles: dict[str, str] = {}
    texts: dict[str, str] = {}
    for lang in LANGUAGES:
        msg = render_notice(TemplateId.SERVICE_REQUEST, lang,
                            pack_context(settings, rec, pack, live, lang, note, currency))
        titles[lang], texts[lang] = msg.subject, msg.text
    steps = tuple(s.replace("{customer_id}", rec.case.customer_id).replace("{case}", rec.case.case_id)
                  for s in PORTAL_STEPS)
    return EvidenceDocument(case_id=rec.case.case_id, customer_id=rec.case.customer_id, generated_at=now,
                            containment_status=pack.containment.status.value,
                            containment_known=pack.containment.known, title=titles, text=texts,
                            pack=pack.model_dump(mode="json"), portal_steps=steps,
                            partner_center_problem=live.problem)


async def evidence_document(ctx: Ports, rec: CaseRecord, now: datetime, note: str = "") -> EvidenceDocument:
    """Read the customer's live details from Partner Center and render the pack."""
    live = await live_details(ctx, rec.case.customer_id)
    exposure = ctx.stores.unbilled(rec.case.customer_id)
    return render_document(ctx.settings, rec, live, now, note, exposure.currency if exposure else "CNY")


async def case_evidence(ctx: Ports, customer_id: str, case_id: str | None = None,
                        now: datetime | None = None) -> EvidenceDocument:
    """The pack of the customer's current case (or of ``case_id``, current or earlier) as it stands now."""
    rec = find_case(ctx.fraud, customer_id, case_id)
    if rec is None:
        raise CaseNotFound(f"no fraud case for customer {customer_id}")
    return await evidence_document(ctx, rec, now or utcnow())
