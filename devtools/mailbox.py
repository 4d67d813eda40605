"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for `make run` and tests.

Messages are parsed into ``email.message.EmailMessage`` and kept in memory; when a directory is given
each one is also written there as an ``.eml`` file so a developer can open it in a mail client.
Optional STARTTLS and AUTH let tests drive the same code paths a production relay needs.

CLI::

    python -m devtools.mailbox --port 1025 --dir var/mailbox     # run until Ctrl-C
    python -m devtools.mailbox --list --dir var/mailbox          # list saved messages
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import logging
import ssl
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

Predicate = Callable[[list[EmailMessage]], bool]


class _Controller(Controller):
    """A Controller that learns the real port when asked to bind port 0."""

    def _trigger_server(self) -> None:
        server = self.server
        if self.port == 0 and isinstance(server, asyncio.Server):
            self.port = int(server.sockets[0].getsockname()[1])
        super()._trigger_server()


class _Handler:
    """aiosmtpd handler: hands every accepted message to the mailbox."""

    def __init__(self, deliver: Callable[[bytes, str, list[str]], None]) -> None:
        self._deliver = deliver

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd hook name
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else content.encode("utf-8")
        self._deliver(raw, str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos])
        return "250 Message accepted for delivery"


def parse_message(raw: bytes) -> EmailMessage:
    """Parse raw RFC 5322 bytes with the modern policy (decoded headers, get_body())."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def read_directory(directory: Path) -> list[EmailMessage]:
    """Every ``.eml`` file saved in ``directory``, oldest first."""
    return [parse_message(p.read_bytes()) for p in sorted(directory.glob("*.eml"))]


def summary_line(msg: EmailMessage) -> str:
    """One human-readable line per message: date, from, to, subject, Message-ID."""
    return (f"{msg.get('Date', '-')} | from {msg.get('From', '-')} | to {msg.get('To', '-')} | "
            f"{msg.get('Subject', '(no subject)')} | {msg.get('Message-ID', '-')}")


class Mailbox:
    """An SMTP server on 127.0.0.1 whose received messages can be read back.

    ``port=0`` picks a free port (read ``.port`` after ``start()``). ``credentials`` turns on AUTH
    (PLAIN/LOGIN) and makes it mandatory; ``tls_context`` offers STARTTLS and makes it mandatory.
    """

    def __init__(
        self,
        port: int = 0,
        directory: Path | None = None,
        *,
        credentials: tuple[str, str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        on_message: Callable[[EmailMessage], None] | None = None,
    ) -> None:
        self._requested_port = port
        self.directory = directory
        self._credentials = credentials
        self._tls_context = tls_context
        self._on_message = on_message
        self._messages: list[EmailMessage] = []
        self._envelopes: list[tuple[str, list[str]]] = []
        self._cond = threading.Condition()
        self._controller: _Controller | None = None
        self._seq = 0

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> Mailbox:
        if self._controller is not None:
            raise RuntimeError("mailbox already started")
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP verb at INFO
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {}
        if self._credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=self._tls_context is not None)
        if self._tls_context is not None:
            kwargs.update(tls_context=self._tls_context, require_starttls=True)
        # a fixed server_hostname: aiosmtpd would otherwise do a DNS lookup on every connection
        controller = _Controller(_Handler(self._deliver), hostname="127.0.0.1", port=self._requested_port,
                                 server_hostname="mailbox.localhost", **kwargs)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Mailbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("mailbox not started")
        return int(self._controller.port)

    # -- reading -----------------------------------------------------------------------------------------
    def messages(self) -> list[EmailMessage]:
        """What has been received so far (a copy of the list), oldest first."""
        with self._cond:
            return list(self._messages)

    def envelopes(self) -> list[tuple[str, list[str]]]:
        """SMTP envelope (MAIL FROM, RCPT TO list) for each message, in the same order."""
        with self._cond:
            return list(self._envelopes)

    def wait_for(self, predicate: Predicate | None = None, timeout: float = 5.0) -> list[EmailMessage]:
        """Block until ``predicate(messages)`` holds (default: at least one message); raise on timeout."""
        check: Predicate = predicate or (lambda msgs: len(msgs) > 0)
        deadline = time.monotonic() + timeout
        with self._cond:
            while not check(list(self._messages)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"mailbox condition not met within {timeout}s "
                                       f"({len(self._messages)} message(s) received)")
                self._cond.wait(remaining)
            return list(self._messages)

    def clear(self) -> None:
        with self._cond:
            self._messages.clear()
            self._envelopes.clear()

    # -- internals ---------------------------------------------------------------------------------------
    def _deliver(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> None:
        msg = parse_message(raw)
        with self._cond:
            self._seq += 1
            seq = self._seq
            if self.directory is not None:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                (self.directory / f"{stamp}-{seq:05d}.eml").write_bytes(raw)
            self._messages.append(msg)
            self._envelopes.append((mail_from, rcpt_tos))
            self._cond.notify_all()
        if self._on_message is not None:
            self._on_message(msg)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        assert self._credentials is not None
        if isinstance(auth_data, LoginPassword):
            user, password = self._credentials
            if auth_data.login == user.encode() and auth_data.password == password.encode():
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.mailbox", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=1025, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--dir", type=Path, default=None, help="save each message as an .eml file here")
    parser.add_argument("--list", action="store_true", help="list the messages saved in --dir and exit")
    args = parser.parse_args(argv)

    if args.list:
        if args.dir is None:
            parser.error("--list needs --dir")
        if not args.dir.is_dir():
            print(f"no mailbox directory at {args.dir}", file=sys.stderr)
            return 1
        for msg in read_directory(args.dir):
            print(summary_line(msg))
        return 0

    box = Mailbox(args.port, args.dir, on_message=lambda m: print(summary_line(m), flush=True))
    box.start()
    where = f", saving to {args.dir}" if args.dir else ""
    print(f"mailbox listening on smtp://127.0.0.1:{box.port}{where} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
