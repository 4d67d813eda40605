"""Start and stop Azurite (from node_modules) on loopback, for make run, the demo and tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
# Azurite's published, well-known development key: not a secret.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def connection_string(queue_port: int, table_port: int, blob_port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"BlobEndpoint=http://127.0.0.1:{blob_port}/{ACCOUNT};"
        f"QueueEndpoint=http://127.0.0.1:{queue_port}/{ACCOUNT};"
        f"TableEndpoint=http://127.0.0.1:{table_port}/{ACCOUNT};"
    )


@dataclass
class Azurite:
    """One Azurite process; ``ports=None`` picks free ports (tests), fixed ports for make run."""

    blob_port: int = 10000
    queue_port: int = 10001
    table_port: int = 10002
    workdir: Path | None = None
    in_memory: bool = True
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _tmp: str | None = field(default=None, repr=False)

    @classmethod
    def on_free_ports(cls) -> Azurite:
        return cls(blob_port=free_port(), queue_port=free_port(), table_port=free_port())

    @property
    def connection_string(self) -> str:
        return connection_string(self.queue_port, self.table_port, self.blob_port)

    @property
    def pid(self) -> int | None:
        """The Azurite process id, which is also its process group id (it runs in its own session)."""
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 30.0) -> Azurite:
        exe = REPO / "node_modules" / ".bin" / "azurite"
        if not exe.exists():
            raise RuntimeError("Azurite is not installed: run `make setup` (npm ci) first")
        if self.workdir is None and not self.in_memory:
            self._tmp = tempfile.mkdtemp(prefix="azurite-")
            self.workdir = Path(self._tmp)
        args = [
            str(exe), "--silent", "--skipApiVersionCheck", "--loose",
            "--blobHost", "127.0.0.1", "--blobPort", str(self.blob_port),
            "--queueHost", "127.0.0.1", "--queuePort", str(self.queue_port),
            "--tableHost", "127.0.0.1", "--tablePort", str(self.table_port),
        ]
        args += ["--inMemoryPersistence"] if self.in_memory else ["--location", str(self.workdir)]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      start_new_session=True, env=os.environ.copy())
        deadline = time.monotonic() + timeout
        for port in (self.blob_port, self.queue_port, self.table_port):
            while True:
                if self._proc.poll() is not None:
                    err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                    raise RuntimeError(f"Azurite exited early: {err.strip()}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(f"Azurite did not listen on port {port} within {timeout}s") from None
                    time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
