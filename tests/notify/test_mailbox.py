"""devtools.mailbox: the loopback SMTP server itself, its .eml files and its CLI."""

from __future__ import annotations

import re
import signal
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from devtools.mailbox import Mailbox, read_directory

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _message(subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "collections@fabrikam.example"
    msg["To"] = "ap@customer.example"
    msg["Subject"] = subject
    msg.set_content("逾期金额 人民币 12,345.67 元")
    return msg


def test_keeps_and_saves_messages(tmp_path: Path) -> None:
    with Mailbox(0, tmp_path / "box") as box:
        with smtplib.SMTP("127.0.0.1", box.port, timeout=5) as client:
            client.send_message(_message("一"))
            client.send_message(_message("二"))
        msgs = box.wait_for(lambda m: len(m) == 2, timeout=5)
    assert [m["Subject"] for m in msgs] == ["一", "二"]
    saved = read_directory(tmp_path / "box")
    assert [m["Subject"] for m in saved] == ["一", "二"]
    assert saved[0].get_content().strip() == "逾期金额 人民币 12,345.67 元"


def test_wait_for_times_out_with_a_reason() -> None:
    with Mailbox() as box, pytest.raises(TimeoutError, match="0 message"):
        box.wait_for(timeout=0.05)


def test_cli_runs_prints_and_lists(tmp_path: Path) -> None:
    box_dir = tmp_path / "mailbox"
    proc = subprocess.Popen([sys.executable, "-m", "devtools.mailbox", "--port", "0", "--dir", str(box_dir)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        match = re.search(r"smtp://127\.0\.0\.1:(\d+)", banner)
        assert match, banner
        with smtplib.SMTP("127.0.0.1", int(match.group(1)), timeout=5) as client:
            client.send_message(_message("最终通知 CLI"))
        line = proc.stdout.readline()
        assert "最终通知 CLI" in line and "ap@customer.example" in line
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert proc.returncode == 0

    listed = subprocess.run([sys.executable, "-m", "devtools.mailbox", "--list", "--dir", str(box_dir)],
                            cwd=REPO, capture_output=True, text=True, timeout=30, check=True)
    assert len(listed.stdout.splitlines()) == 1
    assert "最终通知 CLI" in listed.stdout


def test_cli_list_without_directory_fails(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "devtools.mailbox", "--list", "--dir", str(tmp_path / "nope")]
    res = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=30)
    assert res.returncode == 1 and "no mailbox directory" in res.stderr
