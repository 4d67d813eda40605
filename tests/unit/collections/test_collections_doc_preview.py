"""Customer-facing policy document, portfolio preview/diff, and the package's public surface."""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pytest
from _collections_builders import CAL, POLICY, POLICY_TEXT, ROOT, issued, ledger, local, paid

import shared.collections as collections_pkg
from shared.collections import diff_decisions, parse_policy, preview, render_policy_document

A1, A2, A3 = (f"00000000-0000-4000-8000-0000000000a{i}" for i in (1, 2, 3))  # late, paid, recent


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_document_states_every_stage_and_day_count(language: str) -> None:
    doc = render_policy_document(POLICY, language)  # type: ignore[arg-type]
    for stage in POLICY.stages:
        assert stage.name.get(language) in doc
        t = stage.trigger
        if t.days_past_due is not None:
            assert re.search(rf"(?<!\d){abs(t.days_past_due)}(?!\d)", doc), (stage.id, t.days_past_due)
        for currency, amount in (t.min_overdue or {}).items():
            assert f"{amount} {currency}" in doc
        if stage.harmful:
            assert f" {stage.requires_notice_days} " in doc
    for currency, amount in POLICY.tolerance.items():
        assert f"{amount} {currency}" in doc
    assert POLICY.version in doc and f"{POLICY.restore_within_hours}" in doc
    assert "16:00" in doc and "12:00" in doc


def test_document_follows_the_policy_when_it_changes() -> None:
    changed = parse_policy(
        POLICY_TEXT.replace("days_past_due: 15", "days_past_due: 21").replace(
            "requires_notice_days: 7\n    notice_stage: final_notice\n    requires_approval:\n",
            "requires_notice_days: 9\n    notice_stage: final_notice\n    requires_approval:\n",
        )
    )
    en, zh = render_policy_document(changed, "en"), render_policy_document(changed, "zh-CN")
    assert "21 days after the due date" in en and "到期日后 21 天" in zh
    assert "at least 9 days earlier" in en and "至少提前 9 天" in zh
    assert "15 days after" not in en
    with pytest.raises(ValueError, match="unsupported language"):
        render_policy_document(changed, "fr")  # type: ignore[arg-type]


def test_preview_and_diff_show_what_a_policy_change_would_do() -> None:
    due = dt.date(2026, 6, 1)
    ledgers = [
        ledger(issued("a", "5000", due, cid=A1), cid=A1),
        ledger(issued("b", "5000", due, cid=A2), paid("p", "5000", cid=A2), cid=A2),
        ledger(issued("c", "5000", dt.date(2026, 6, 10), cid=A3), cid=A3),
    ]
    now = local(2026, 6, 22)
    stricter = parse_policy(
        POLICY_TEXT.replace('"2026-11-v1"', '"v2"').replace("days_past_due: 15", "days_past_due: 10")
    )
    old, new = preview(ledgers, POLICY, CAL, now), preview(ledgers, stricter, CAL, now)
    assert [d.stage for d in old] == ["final_notice", None, "overdue"]
    assert [d.stage for d in new] == ["final_notice", None, "final_notice"]
    changes = diff_decisions(old, new)
    assert [c.customer_id for c in changes] == [A3]
    change = changes[0]
    assert (change.old_stage, change.new_stage, change.severity_delta) == ("overdue", "final_notice", 1)
    assert "notify_customer:final_notice" in change.actions_added
    assert "notify_customer:overdue" in change.actions_removed
    assert diff_decisions(old, old) == []


def test_public_surface_is_small_and_exported_names_exist() -> None:
    assert len(collections_pkg.__all__) <= 30
    for name in collections_pkg.__all__:
        assert hasattr(collections_pkg, name), name


ALLOWED = {"shared", "pydantic", "yaml", "holidays", "chinese_calendar", "jinja2", "__future__"}
STDLIB_BANNED = {"os", "socket", "http", "urllib", "requests", "httpx", "time", "subprocess", "asyncio"}


@pytest.mark.parametrize("package", ["shared/collections", "shared/domain"])
def test_engine_imports_only_domain_stdlib_and_allowed_libraries(package: str) -> None:
    import sys

    for path in sorted((ROOT / package).glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top not in STDLIB_BANNED, f"{path.name} imports {name}"
                assert top in ALLOWED or top in sys.stdlib_module_names, f"{path.name} imports {name}"
                if top == "shared":
                    assert name.startswith(("shared.domain", "shared.collections")), (
                        f"{path.name} imports {name}"
                    )
                    if package == "shared/domain":
                        assert name.startswith("shared.domain"), f"{path.name} imports {name}"


def test_templates_exist_for_both_languages() -> None:
    names = {p.name for p in Path(collections_pkg.__file__).parent.joinpath("templates").iterdir()}
    assert names >= {"collections_policy.en.md.j2", "collections_policy.zh-CN.md.j2"}
