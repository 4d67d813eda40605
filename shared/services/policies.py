"""Loading the collections policy set and calendar from files, cached per process by file mtime.

The current policy is ``CSPGUARD_POLICY_FILE``; earlier versions still used by open cases live as
YAML files in ``CSPGUARD_POLICY_ARCHIVE_DIR``. A policy whose templates the notifier does not know is
refused at load, so a typo cannot silently drop a notice.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from shared.collections import Calendar, CalendarOverrides, Policy, PolicyError, PolicySet, parse_policy
from shared.collections.calendar import calendar_for
from shared.notify import TemplateId
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.collections.policy_doc import Language
    from shared.ports import Ports


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


def check_templates(policy: Policy, source: str) -> None:
    known = {t.value for t in TemplateId}
    for stage in policy.stages:
        template = stage.notify_template
        if template is not None and template not in known:
            raise PolicyError(f"{source}: stage {stage.id}: unknown template {template!r}; known: {sorted(known)}")


def load_policy_file(path: Path) -> Policy:
    if not path.is_file():
        raise PolicyError(f"policy file not found: {path}")
    policy = parse_policy(path.read_text(encoding="utf-8"), str(path))
    check_templates(policy, str(path))
    return policy


@lru_cache(maxsize=8)
def _policy_set(current: Path, archive: Path, _stamp: tuple[float, ...]) -> PolicySet:
    older = [load_policy_file(p) for p in sorted(archive.glob("*.yaml"))] if archive.is_dir() else []
    current_policy = load_policy_file(current)
    return PolicySet.of(*[p for p in older if p.version != current_policy.version], current_policy)


def policy_set(settings: Settings) -> PolicySet:
    archive = settings.policy_archive_dir
    stamps = (_mtime(settings.policy_file), _mtime(archive),
              *(_mtime(p) for p in sorted(archive.glob("*.yaml")) if archive.is_dir()))
    return _policy_set(settings.policy_file, archive, stamps)


@lru_cache(maxsize=8)
def _overrides(path: Path | None, _stamp: float) -> CalendarOverrides | None:
    if path is None:
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return CalendarOverrides.model_validate(data)


def calendar(settings: Settings, policy: Policy) -> Calendar:
    """The calendar of the policy's country with the partner's override file applied."""
    path = settings.calendar_overrides_file
    return calendar_for(policy.calendar.country, _overrides(path, _mtime(path) if path else 0.0))


def policy_document(ctx: Ports, language: Language) -> dict[str, Any]:
    """``GET /api/collections/policy``: the current policy as customers are told about it, in Markdown."""
    from shared.collections.policy_doc import render_policy_document

    policy = policy_set(ctx.settings).for_version(None)
    return {"version": policy.version, "language": language, "markdown": render_policy_document(policy, language)}
