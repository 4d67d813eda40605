"""A replay may correct a message, never turn it into another: a parked reminder cannot become "you were
suspended", and a payment cannot move to another customer."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.services.deadletters import ReplayRefused, _keeps_identity
from shared.storage.deadletters import DeadLetter

CID = "0b6f5d2a-3c1e-4f7a-9d8b-1a2b3c4d5e6f"


def _notice(**change: str) -> str:
    payload = {"customer_id": CID, "key": f"{CID}:reminder", "stage_id": "reminder", "template": "overdue_reminder",
               "audience": "customer", **change}
    return json.dumps({"schema_version": 1, "kind": "collections.notice", "idempotency_key": f"{CID}:reminder",
                       "source": "test", "payload": payload})


def _letter(body: str) -> DeadLetter:
    return DeadLetter(queue="notifications", id="L1", reason="SMTP 550", body=body,
                      received_at=datetime(2026, 12, 1, tzinfo=UTC), kind="collections.notice", customer_id=CID,
                      idempotency_key=f"{CID}:reminder")


def test_a_notice_replay_may_fix_a_field_but_keeps_what_it_says() -> None:
    _keeps_identity(_letter(_notice()), _notice(reason="corrected contact"))  # a correction is fine
    for field, value in (("template", "suspension_done"), ("stage_id", "suspend_usage"), ("audience", "team")):
        with pytest.raises(ReplayRefused, match=field):
            _keeps_identity(_letter(_notice()), _notice(**{field: value}))


def test_an_unreadable_original_is_checked_by_validation_alone() -> None:
    _keeps_identity(_letter("not json at all"), _notice(template="final_notice"))
