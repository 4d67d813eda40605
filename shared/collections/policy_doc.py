"""The customer-facing collections policy, rendered from the same Policy that drives enforcement.

Templates (Markdown, English and Simplified Chinese) live in ``templates/``; they receive only facts
derived from the policy, so the text customers read and the automation cannot disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from shared.collections.policy import NotifyCustomer, NotifyTeam, Policy, Suspend

Language = Literal["en", "zh-CN"]
LANGUAGES: tuple[Language, ...] = ("en", "zh-CN")

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # Markdown output, not HTML
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _stage_facts(policy: Policy) -> list[dict[str, Any]]:
    out = []
    for s in policy.stages:
        t = s.trigger
        suspend = next((a for a in s.actions if isinstance(a, Suspend)), None)
        out.append(
            {
                "id": s.id,
                "name": s.name,
                "days": t.days_past_due,
                "min_overdue": [f"{a} {c}" for c, a in sorted((t.min_overdue or {}).items())],
                "exposure_pct": None if t.exposure_ratio is None else f"{t.exposure_ratio * 100:.0f}",
                "match": t.match,
                "notifies_customer": any(isinstance(a, NotifyCustomer) for a in s.actions),
                "notifies_team": any(isinstance(a, NotifyTeam) for a in s.actions),
                "suspend": None if suspend is None or suspend.scope.kind == "none" else suspend.scope,
                "notice_days": s.requires_notice_days,
                "notice_stage": policy.stage(s.notice_stage).name if s.notice_stage else None,
                "review": "always"
                if s.requires_approval is True
                else "never"
                if s.requires_approval is False
                else "sometimes",
            }
        )
    return out


def render_policy_document(policy: Policy, language: Language) -> str:
    """Markdown text of the collections policy in ``language`` (``en`` or ``zh-CN``)."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; use one of {LANGUAGES}")
    cal = policy.calendar
    return _env.get_template(f"collections_policy.{language}.md.j2").render(
        policy=policy,
        stages=_stage_facts(policy),
        tolerance=sorted(policy.tolerance.items()),
        cal=cal,
        cutoff=None if cal.harm_cutoff_local_time is None else f"{cal.harm_cutoff_local_time:%H:%M}",
        friday=None if cal.no_harm_on_friday_after is None else f"{cal.no_harm_on_friday_after:%H:%M}",
        window=f"{cal.harm_window_start:%H:%M}",
        terms=policy.suspension,
        suspends=any(s.harmful for s in policy.stages),
        lang=language,
    )
