"""Run the sandbox: uvicorn over TLS (a local trustme CA) in a background thread."""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme
import uvicorn

from devtools.sandbox.app import build_app
from devtools.sandbox.config import FaultConfig, SandboxConfig
from devtools.sandbox.store import Store


def load_or_create_ca(state_dir: Path) -> trustme.CA:
    """Reuse the CA kept in ``state_dir`` so clients trusting ca.pem survive a restart."""
    cert, key = state_dir / "ca.pem", state_dir / "ca-key.pem"
    if cert.exists() and key.exists():
        return trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
    ca = trustme.CA(organization_name="csp-guard sandbox")
    state_dir.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(cert))
    ca.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    return ca


class Sandbox:
    """A Partner Center look-alike on https://127.0.0.1:PORT. ``start()`` returns once it listens."""

    def __init__(self, config: SandboxConfig | None = None, state_dir: Path | None = None) -> None:
        self.config = config or SandboxConfig()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="pc-sandbox-")
            state_dir = Path(self._tmp.name)
        self.state_dir = state_dir
        self.state = Store(self.config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = self.config.port

    # ---- contract ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"https://{self.config.host}:{self.port}"

    @property
    def authority_host(self) -> str:
        """Same origin as the API; clients append ``/{tenant}``."""
        return self.base_url

    @property
    def ca_pem_path(self) -> Path:
        return self.state_dir / "ca.pem"

    @property
    def tenant_id(self) -> str:
        return self.config.tenant_id

    @property
    def client_id(self) -> str:
        return self.config.client_id

    @property
    def client_secret(self) -> str:
        return self.config.client_secret

    @property
    def scope(self) -> str:
        return f"{self.config.audience}/.default"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only the sandbox CA (for httpx ``verify=``)."""
        return ssl.create_default_context(cafile=str(self.ca_pem_path))

    def set_faults(self, faults: FaultConfig | None = None, **kwargs: Any) -> None:
        """Replace the fault settings (``set_faults(error_rate=0.2, seed=3)``); no arguments clears them."""
        self.state.set_faults(faults or FaultConfig(**kwargs))

    def start(self, timeout: float = 15.0) -> Sandbox:
        ca = load_or_create_ca(self.state_dir)
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        chain = self.state_dir / "server.pem"
        leaf.private_key_and_cert_chain_pem.write_to_path(str(chain))
        chain.chmod(0o600)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.config.host, self.config.port))
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            build_app(self.state),
            ssl_certfile=str(chain),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="pc-sandbox"
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Partner Center sandbox did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Sandbox:
        return self.start() if self._server is None else self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
