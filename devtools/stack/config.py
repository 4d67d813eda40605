"""The local stack's pure parts: its configuration, the app settings it derives, the env file and banner.

Nothing here starts a process or touches the network, so the rules (what overrides what, how a value is
quoted for ``. var/stack.env``) are unit-testable on their own.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = REPO / "var"
ENV_FILE = "stack.env"
CLOCK_FILE = "clock.json"  # the time machine (shared.clock.FileClock) every process of the stack reads


class StackError(RuntimeError):
    """The stack cannot start (a port is taken, a piece is missing); the message says what to do."""


@dataclass(frozen=True)
class Ports:
    """Loopback ports of every service; 0 means "any free port" (Azurite gets concrete free ports)."""

    app: int = 7071
    sandbox: int = 8443
    smtp: int = 1025
    blob: int = 10000
    queue: int = 10001
    table: int = 10002

    def labelled(self) -> dict[str, int]:
        """Port per human-readable service name, for error messages."""
        return {"local runner (app)": self.app, "Partner Center sandbox": self.sandbox, "SMTP mailbox": self.smtp,
                "Azurite blob": self.blob, "Azurite queue": self.queue, "Azurite table": self.table}


# Environment variables that move a fixed-port stack (e.g. `make run` beside another stack, or tests).
PORT_ENV = {f.name: f"CSPGUARD_STACK_{f.name.upper()}_PORT" for f in fields(Ports)}


def ports_from_env(env: Mapping[str, str], base: Ports | None = None) -> Ports:
    """``base`` with any CSPGUARD_STACK_*_PORT variables applied; a bad value is a StackError."""
    changes: dict[str, int] = {}
    for name, var in PORT_ENV.items():
        raw = env.get(var, "").strip()
        if not raw:
            continue
        if not raw.isdigit() or not 0 <= int(raw) < 65536:
            raise StackError(f"{var}={raw!r} is not a port number (0-65535)")
        changes[name] = int(raw)
    return replace(base or Ports(), **changes)


@dataclass(frozen=True)
class StackConfig:
    """What to start. ``free_ports=True`` (tests, demo): in-memory Azurite, temporary state, any free port.

    Otherwise (``make run``): fixed ports, Azurite persisted under ``state_dir/azurite``, the sandbox CA
    under ``state_dir/sandbox``, mail saved under ``state_dir/mailbox``, settings in ``state_dir/stack.env``.
    """

    free_ports: bool = False
    ports: Ports = field(default_factory=Ports)
    state_dir: Path = DEFAULT_STATE_DIR
    seed: int = 1
    customers: int = 25
    settings_file: Path | None = None  # default: local.settings.json, else local.settings.example.json
    enable_timers: bool | None = None  # default: on for make run, off in free-port mode (tests drive timers)
    extra_settings: Mapping[str, str] = field(default_factory=dict)

    @property
    def timers(self) -> bool:
        return (not self.free_ports) if self.enable_timers is None else self.enable_timers


@dataclass(frozen=True)
class Endpoints:
    """Where the started services listen and how to authenticate to them."""

    storage_connection: str
    pc_base_url: str
    pc_authority_host: str
    pc_ca_bundle: Path
    pc_tenant_id: str
    pc_client_id: str
    pc_client_secret: str
    smtp_port: int
    clock_file: Path


def stack_overrides(e: Endpoints) -> dict[str, str]:
    """The app settings that point csp-guard at this stack (also what ``stack.env`` exports)."""
    return {
        "AzureWebJobsStorage": e.storage_connection,
        "CSPGUARD_PC_BASE_URL": e.pc_base_url,
        "CSPGUARD_PC_AUTHORITY_HOST": e.pc_authority_host,
        "CSPGUARD_PC_CA_BUNDLE": str(e.pc_ca_bundle),
        "CSPGUARD_PC_TENANT_ID": e.pc_tenant_id,
        "CSPGUARD_PC_CLIENT_ID": e.pc_client_id,
        "CSPGUARD_PC_CLIENT_SECRET": e.pc_client_secret,
        "CSPGUARD_SMTP_HOST": "127.0.0.1",
        "CSPGUARD_SMTP_PORT": str(e.smtp_port),
        "CSPGUARD_ENFORCEMENT_ENABLED": "true",  # acts on the sandbox only: every endpoint above is local
        "CSPGUARD_LOCAL_STACK": "true",  # only this stack writes it: the clock may move (shared.settings)
        "CSPGUARD_LOCAL_CLOCK_FILE": str(e.clock_file),
    }


def app_settings(file_values: Mapping[str, str], environ: Mapping[str, str], overrides: Mapping[str, str],
                 extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Settings for the runner: the settings file, the environment winning for the keys the file names (as
    the runner does on its own), then the stack's endpoints, then explicit extras (tests)."""
    merged = {k: environ.get(k, v) for k, v in file_values.items()}
    merged.setdefault("FUNCTIONS_WORKER_RUNTIME", "python")
    return {**merged, **overrides, **(extra or {})}


def resolve_relative_paths(settings: Mapping[str, str], keys: tuple[str, ...], root: Path) -> dict[str, str]:
    """Make repo-relative file settings absolute so a process started elsewhere still finds them."""
    out = dict(settings)
    for key in keys:
        value = out.get(key, "")
        if value and not Path(value).is_absolute():
            out[key] = str(root / value)
    return out


def env_file_text(values: Mapping[str, str]) -> str:
    """KEY=VALUE lines, each value shell-quoted so ``set -a; . var/stack.env; set +a`` exports them exactly."""
    head = "# csp-guard local stack (written by `make run`; removed when it stops).\n" \
           "# Use with the cspguard CLI:  set -a; . var/stack.env; set +a\n"
    return head + "".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items())


def parse_env_file(text: str) -> dict[str, str]:
    """Inverse of ``env_file_text`` (comments and blank lines ignored), for tools that do not use a shell."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, raw = line.partition("=")
        parts = shlex.split(raw)
        out[key.strip()] = parts[0] if parts else ""
    return out


def banner(*, app_url: str, function_key: str, sandbox_url: str, ca_pem: Path, storage_ports: tuple[int, int, int],
           smtp_port: int, mail_dir: Path | None, env_file: Path | None, customers: int,
           notes: tuple[str, ...] = (), clock: str | None = None) -> str:
    """The few lines a developer needs after ``make run``."""
    blob, queue, table = storage_ports
    mail = f"smtp://127.0.0.1:{smtp_port}" + (f", saved as .eml files in {mail_dir}" if mail_dir else "")
    lines = [
        "csp-guard local stack is up (127.0.0.1 only)",
        f"  app        {app_url}/api   (health: {app_url}/api/health)",
        f"  console    {app_url}/api/console   (LOCAL sign-in: {app_url}/.auth/login, choose a user and roles)",
        f"  key        x-functions-key: {function_key}   (system ingress: POST /api/payment-events)",
        f"  sandbox    {sandbox_url}   ({customers} customers; CA {ca_pem}; admin {sandbox_url}/_sandbox/state)",
        f"  storage    Azurite blob {blob}, queue {queue}, table {table}",
        f"  mail       {mail}",
    ]
    if clock is not None:
        lines.append(f"  clock      {clock}")
    if env_file is not None:
        lines.append(f"  CLI        set -a; . {env_file}; set +a   then e.g. cspguard pc customers")
    lines += [f"  {note}" for note in notes]
    lines.append("Ctrl-C (or SIGTERM) stops everything; a second Ctrl-C forces.")
    return "\n".join(lines)
