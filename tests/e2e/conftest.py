"""One whole local stack (free ports, in-memory Azurite) for the session, plus helpers for the
subprocess tests that start `python -m devtools.stack` the way `make run` / `make demo` do."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from devtools.stack import Stack, StackConfig
from devtools.stack.config import REPO

T = TypeVar("T")
EXAMPLE_SETTINGS = REPO / "local.settings.example.json"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The stack as the demo starts it; settings from the example file so a developer's own
    local.settings.json cannot change what the tests see."""
    with Stack(StackConfig(free_ports=True, customers=5, settings_file=EXAMPLE_SETTINGS)) as running:
        yield running


def wait_until(check: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Poll until ``check`` returns something other than None (queues are asynchronous)."""
    deadline = time.monotonic() + timeout
    while (result := check()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)
    return result


class Proc:
    """A `python -m devtools.stack ...` subprocess whose stdout is collected line by line in the background."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.popen = subprocess.Popen([sys.executable, "-m", "devtools.stack", *args], cwd=REPO,
                                      env={**os.environ, **env}, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, needle: str, timeout: float = 45.0) -> None:
        def seen() -> bool | None:
            if any(needle in line for line in self.lines):
                return True
            if self.popen.poll() is not None:
                raise AssertionError(f"exited {self.popen.returncode} before printing {needle!r}:\n{self.output}")
            return None

        wait_until(seen, f"{needle!r} in the output", timeout)

    def finish(self, timeout: float = 60.0) -> int:
        rc = self.popen.wait(timeout)
        self._reader.join(5)
        return rc

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


@pytest.fixture
def spawn() -> Iterator[Callable[[list[str], dict[str, str]], Proc]]:
    """Start stack subprocesses; any still running at the end of the test is killed."""
    started: list[Proc] = []

    def start(args: list[str], env: dict[str, str]) -> Proc:
        started.append(Proc(args, env))
        return started[-1]

    yield start
    for proc in started:
        proc.kill()
