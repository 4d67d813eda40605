"""Timing contracts between the app's claims and deferrals and the host's queue settings (host.json)."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

from devtools.runner.metadata import parse_timespan
from devtools.runner.queues import HIDE_WHILE_RUNNING
from shared.messaging.inspect import names_in
from shared.messaging.retry import CAP_SECONDS, MAX_DEFERRALS, backoff_seconds
from shared.storage.idempotency import CLAIM_TTL

HOST = json.loads((Path(__file__).resolve().parents[2] / "host.json").read_text())["extensions"]["queues"]
HOST_LOCK = timedelta(minutes=10)  # how long the host hides a message whose worker died (renewed while running)


def test_a_dead_attempts_claim_is_stale_before_its_message_comes_back() -> None:
    assert CLAIM_TTL < HOST_LOCK
    assert timedelta(seconds=HIDE_WHILE_RUNNING) >= CLAIM_TTL  # the local runner's default lock too
    # a live claim must outlast the host's quick retries' spacing, or a redelivery would take over a live attempt
    assert parse_timespan(HOST["visibilityTimeout"]) * 2 < CLAIM_TTL


def test_deferral_back_off_grows_is_capped_and_outlasts_a_long_outage() -> None:
    rng = random.Random(1)
    delays = [backoff_seconds(a, rng) for a in range(MAX_DEFERRALS)]
    assert 7 <= delays[0] <= 15 and delays[3] > delays[0]
    assert max(delays) <= CAP_SECONDS
    assert sum(delays) > 24 * 3600  # a relay down for a day loses nothing


def test_what_a_broken_message_names_is_read_leniently() -> None:
    cid = "0F8FAD5B-D9CB-469F-A165-70867728950E"
    plain = json.dumps({"kind": "payment.received", "idempotency_key": "e1", "payload": {"customer_id": cid}})
    assert names_in(plain).customer_id == cid.lower()  # a producer forgot base64
    truncated = plain[:-2]  # not JSON any more: the regex reading still finds a GUID
    assert names_in(truncated).customer_id == cid.lower() and names_in(truncated).kind == "payment.received"
    import base64

    assert names_in(base64.b64encode(plain.encode()).decode()).idempotency_key == "e1"
    assert names_in("\x00\xff junk").customer_id is None
