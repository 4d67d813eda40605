"""ActionKey: the typed business key of a collections action, and the stored strings it reads and writes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.collections.keys import ActionKey

CID = "3f1c8e2a-0000-4000-8000-000000000001"
CASE = f"{CID}/20260302T090000"


@pytest.mark.parametrize(("key", "text"), [
    (ActionKey.for_stage("suspend", CID, "suspend_all", case_id=CASE), f"{CASE}:suspend_all:suspend"),
    (ActionKey.for_stage("suspend", CID, "suspend_all", case_id=CASE).at(2), f"{CASE}:suspend_all:suspend:g2"),
    (ActionKey.for_stage("notify_customer", CID, "reminder", anchor="2026-03-01"),
     f"{CID}:2026-03-01:reminder:notify_customer"),
    (ActionKey.for_stage("notify_team", CID, "overdue", anchor=None), f"{CID}:None:overdue:notify_team"),
    (ActionKey.reactivation(CID, case_id=CASE), f"{CASE}:reactivate"),
    (ActionKey.reactivation(CID, 0), f"{CID}:reactivate:g0"),
    (ActionKey.for_run("sweep-20260302T010000-ab12cd"), "run:sweep-20260302T010000-ab12cd"),
    (ActionKey.manual(CID, "r1"), f"manual:{CID}:r1"),
])
def test_today_strings_are_written_and_read_back(key: ActionKey, text: str) -> None:
    assert str(key) == text
    assert ActionKey.parse(text) == key


def test_a_request_names_the_engine_action_it_carries_out() -> None:
    request = ActionKey.parse(f"{CASE}:suspend_all:suspend:g3")
    assert request.generation == 3 and request.customer_id == CID and request.stage_id == "suspend_all"
    assert request.action == ActionKey.parse(f"{CASE}:suspend_all:suspend")
    assert request.action != ActionKey.parse(f"{CASE}:suspend_usage:suspend")


@pytest.mark.parametrize("text", ["", "k1", "run:", ":suspend", f"{CASE}:wipe", f"{CASE}:g1"])
def test_other_strings_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an action key"):
        ActionKey.parse(text)


ids = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)
stages = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
generations = st.none() | st.integers(min_value=0, max_value=10_000)


@st.composite
def keys(draw: st.DrawFn) -> ActionKey:
    cid = draw(ids)
    shape = draw(st.sampled_from(["case", "anchor", "react_case", "react", "run", "manual"]))
    gen = draw(generations)
    if shape == "run":
        return ActionKey.for_run(draw(ids))
    if shape == "manual":
        return ActionKey.manual(cid, draw(ids))
    case = f"{cid}/{draw(ids)}"
    if shape == "react_case":
        return ActionKey.reactivation(cid, gen, case_id=case)
    if shape == "react":
        return ActionKey.reactivation(cid, gen)
    kind = draw(st.sampled_from(["notify_customer", "notify_team", "suspend"]))
    if shape == "case":
        return ActionKey.for_stage(kind, cid, draw(stages), case_id=case).at(gen) if gen is not None else \
            ActionKey.for_stage(kind, cid, draw(stages), case_id=case)
    return ActionKey.for_stage(kind, cid, draw(stages), anchor=draw(st.dates()))


@given(keys())
def test_every_key_reads_back_as_itself(key: ActionKey) -> None:
    assert ActionKey.parse(str(key)) == key
    assert str(ActionKey.parse(str(key))) == str(key)
