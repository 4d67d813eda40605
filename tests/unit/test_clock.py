"""The one clock: a forward-only local time machine, refused outside the local stack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared import clock
from shared.clock import ClockError, FileClock, parse_duration, parse_instant
from shared.settings import SettingsError, load_settings


class Fixed:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def now(self) -> datetime:
        return self.t


T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_time_machine_moves_forward_only_and_is_shared_through_its_file(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    a, b = FileClock(path, Fixed(T0)), FileClock(path, Fixed(T0))
    assert a.now() == T0 and a.state().is_real
    a.advance(parse_duration("8d"))
    assert b.now() == T0 + timedelta(days=8)  # another process reading the same file
    target = parse_instant("2026-12-20T09:00+08:00")
    b.set(target)
    assert a.now() == target == datetime(2026, 12, 20, 1, 0, tzinfo=UTC)
    with pytest.raises(ClockError, match="only moves forward"):
        a.set(parse_instant("2026-12-19T09:00+08:00"))
    with pytest.raises(ClockError, match="only moves forward"):
        a.advance(timedelta(hours=-1))
    assert a.state().changes == 2


def test_durations_and_instants_are_parsed_strictly() -> None:
    assert parse_duration("1d12h") == timedelta(days=1, hours=12)
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("2w") == timedelta(weeks=2)
    for bad in ("", "8", "8x", "d8", "-1d"):
        with pytest.raises(ClockError):
            parse_duration(bad)
    with pytest.raises(ClockError, match="no UTC offset"):
        parse_instant("2026-12-20T09:00")


def test_utcnow_follows_the_installed_clock() -> None:
    previous = clock.use(Fixed(T0))
    try:
        assert clock.utcnow() == T0
    finally:
        clock.use(previous)


LOCAL = {"AzureWebJobsStorage": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=x;"
                                "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;",
         "CSPGUARD_PC_BASE_URL": "https://127.0.0.1:8443"}


def test_a_clock_file_is_accepted_in_the_local_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for v in ("WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME", "WEBSITE_HOSTNAME"):
        monkeypatch.delenv(v, raising=False)
    s = load_settings(**LOCAL, CSPGUARD_LOCAL_STACK="true", CSPGUARD_LOCAL_CLOCK_FILE=str(tmp_path / "c.json"))
    assert s.local_clock_file == tmp_path / "c.json"


@pytest.mark.parametrize(("extra", "env", "why"), [
    ({}, {}, "CSPGUARD_LOCAL_STACK is not true"),
    ({"CSPGUARD_LOCAL_STACK": "true"}, {"WEBSITE_INSTANCE_ID": "abc"}, "App Service instance"),
    ({"CSPGUARD_LOCAL_STACK": "true", "CSPGUARD_PC_BASE_URL": "https://api.partnercenter.microsoft.com"}, {},
     "not the loopback sandbox"),
    ({"CSPGUARD_LOCAL_STACK": "true", "AzureWebJobsStorage": "AccountName=x;BlobEndpoint=https://x.blob.core.chinacloudapi.cn"},
     {}, "not a loopback Azurite"),
])
def test_a_clock_file_is_refused_anywhere_else(extra: dict[str, str], env: dict[str, str], why: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for v in ("WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME", "WEBSITE_HOSTNAME"):
        monkeypatch.delenv(v, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError, match="CSPGUARD_LOCAL_CLOCK_FILE moves time and is refused") as err:
        load_settings(**{**LOCAL, **extra}, CSPGUARD_LOCAL_CLOCK_FILE="/tmp/clock.json")
    assert why in str(err.value) and "real clock" in str(err.value)
