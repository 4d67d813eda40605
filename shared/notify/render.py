"""Render a notice from its Jinja2 templates: a pure function of (template id, language, context).

Layout: ``templates/<language>/<id>.txt.j2`` defines ``{% block subject %}`` and ``{% block body %}``;
``templates/<language>/<id>.html.j2`` is the HTML alternative (autoescaped) and receives ``subject``.
Undefined values raise (StrictUndefined): a missing amount must stop the notice, never print a blank.
Filters ``date`` and ``datetime`` format ISO strings in the notice's language (see formatting.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shared.notify.errors import TemplateContextError, UnknownTemplate
from shared.notify.formatting import format_date, format_datetime, normalize_language
from shared.notify.models import RenderedMessage, TemplateId

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def _wrap_filter(fn: Callable[[Any, str], str], language: str) -> Callable[[Any], str]:
    def apply(value: Any) -> str:
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return fn(value, language)

    return apply


@lru_cache(maxsize=4)
def _environment(language: str) -> Environment:
    """One environment per language (filters bound to it); built on first use, not at import."""
    env = Environment(
        loader=FileSystemLoader([TEMPLATE_DIR / language, TEMPLATE_DIR]),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    env.filters["date"] = _wrap_filter(format_date, language)
    env.filters["datetime"] = _wrap_filter(format_datetime, language)
    env.globals["language"] = language
    return env


_BLANK_RUNS = re.compile(r"\n{3,}")


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)) + "\n"


def _render(template_id: TemplateId, language: str, context: Mapping[str, Any]) -> RenderedMessage:
    env = _environment(language)
    try:
        text_tpl = env.get_template(f"{template_id.value}.txt.j2")
        html_tpl = env.get_template(f"{template_id.value}.html.j2")
    except jinja2.TemplateNotFound as exc:
        raise UnknownTemplate(f"no {language} template file {exc.name} for {template_id.value}") from None
    data = dict(context)
    ctx = text_tpl.new_context(data)
    if "subject" not in text_tpl.blocks or "body" not in text_tpl.blocks:
        raise UnknownTemplate(f"{template_id.value}.txt.j2 ({language}) must define blocks subject and body")
    subject = " ".join("".join(text_tpl.blocks["subject"](ctx)).split())
    text = _tidy_text("".join(text_tpl.blocks["body"](ctx)))
    html = html_tpl.render({**data, "subject": subject})
    if not subject:
        raise TemplateContextError(f"{template_id.value} ({language}) rendered an empty subject")
    return RenderedMessage(template_id=template_id, language=language, subject=subject, text=text, html=html)


def render_notice(template_id: TemplateId | str, language: str | None,
                  context: Mapping[str, Any]) -> RenderedMessage:
    """Render subject, plain text and HTML for one notice.

    An unknown or unsupported language falls back to English. A missing or malformed value raises
    ``TemplateContextError`` naming the template, so the notice is dead-lettered rather than sent wrong.
    """
    try:
        tid = TemplateId(template_id)
    except ValueError:
        raise UnknownTemplate(f"unknown template id {template_id!r}") from None
    lang = normalize_language(language)
    try:
        return _render(tid, lang, context)
    except jinja2.UndefinedError as exc:
        raise TemplateContextError(f"{tid.value} ({lang}): missing value: {exc.message}") from None
    except (ValueError, TypeError) as exc:
        raise TemplateContextError(f"{tid.value} ({lang}): bad value: {exc}") from None

