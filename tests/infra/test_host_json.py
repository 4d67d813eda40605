"""host.json production promises, and the app-setting overrides infra applies on top of it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from tests.infra.bicep import app_settings, read

HOST = json.loads((Path(__file__).resolve().parents[2] / "host.json").read_text())
SETTINGS = app_settings(read("modules/functionapp.bicep"))


def _span(value: str) -> timedelta:
    h, m, s = (int(x) for x in value.strip("'").split(":"))
    return timedelta(hours=h, minutes=m, seconds=s)


def test_sampling_never_drops_requests_or_exceptions() -> None:
    sampling = HOST["logging"]["applicationInsights"]["samplingSettings"]
    if sampling["isEnabled"]:
        assert {"Request", "Exception"} <= set(sampling["excludedTypes"].split(";"))


def test_request_and_function_logs_are_kept() -> None:
    levels = HOST["logging"]["logLevel"]
    for category in ("Host.Results", "Function"):
        assert levels[category] in ("Trace", "Debug", "Information")


def test_timeout_is_bounded_and_fits_every_plan() -> None:
    assert timedelta(minutes=1) <= _span(HOST["functionTimeout"]) <= timedelta(minutes=30)


def test_queue_contract_is_base64_with_poison_after_five_attempts() -> None:
    queues = HOST["extensions"]["queues"]
    assert queues["messageEncoding"] == "base64" and queues["maxDequeueCount"] == 5


def test_production_overrides_slow_retries_and_polling_down() -> None:
    queues = HOST["extensions"]["queues"]
    prefix = "AzureFunctionsJobHost__extensions__queues__"
    retry, poll = SETTINGS[prefix + "visibilityTimeout"], SETTINGS[prefix + "maxPollingInterval"]
    assert _span(retry) > _span(queues["visibilityTimeout"])
    assert _span(retry) * (queues["maxDequeueCount"] - 1) >= timedelta(minutes=3)
    assert _span(poll) <= timedelta(seconds=30)
