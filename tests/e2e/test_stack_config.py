"""The stack's pure rules: port overrides, settings precedence, the env file a shell sources."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devtools.stack.config import (
    PORT_ENV,
    Endpoints,
    Ports,
    StackConfig,
    StackError,
    app_settings,
    env_file_text,
    parse_env_file,
    ports_from_env,
    resolve_relative_paths,
    stack_overrides,
)

ENDPOINTS = Endpoints(storage_connection="UseDevelopmentStorage=false;X=1", pc_base_url="https://127.0.0.1:1",
                      pc_authority_host="https://127.0.0.1:1", pc_ca_bundle=Path("/ca.pem"), pc_tenant_id="t",
                      pc_client_id="c", pc_client_secret="s", smtp_port=2525, clock_file=Path("/var/clock.json"))


def test_port_variables_move_only_the_named_ports() -> None:
    ports = ports_from_env({PORT_ENV["app"]: "17071", PORT_ENV["queue"]: "0", "UNRELATED": "1"})
    assert ports == Ports(app=17071, queue=0)


@pytest.mark.parametrize("bad", ["http", "-1", "70000", "80.5"])
def test_a_bad_port_variable_is_a_clear_error(bad: str) -> None:
    with pytest.raises(StackError, match=PORT_ENV["smtp"]):
        ports_from_env({PORT_ENV["smtp"]: bad})


def test_stack_endpoints_win_over_file_and_environment_and_extras_win_over_all() -> None:
    file_values = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "CSPGUARD_PARTNER_NAME": "From file",
                   "CSPGUARD_SMTP_PORT": "1025", "SWEEP_SCHEDULE": "0 0 1 * * *"}
    environ = {"CSPGUARD_PARTNER_NAME": "From env", "NOT_IN_FILE": "ignored", "AzureWebJobsStorage": "env"}
    merged = app_settings(file_values, environ, stack_overrides(ENDPOINTS), {"SWEEP_SCHEDULE": "0 0 0 1 1 *"})
    assert merged["AzureWebJobsStorage"] == ENDPOINTS.storage_connection
    assert merged["CSPGUARD_SMTP_PORT"] == "2525"
    assert merged["CSPGUARD_PARTNER_NAME"] == "From env"
    assert merged["SWEEP_SCHEDULE"] == "0 0 0 1 1 *"
    assert merged["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert "NOT_IN_FILE" not in merged


def test_relative_file_settings_become_repo_paths() -> None:
    out = resolve_relative_paths({"A": "config/x.yaml", "B": "/abs/y", "C": ""}, ("A", "B", "C"), Path("/repo"))
    assert out == {"A": "/repo/config/x.yaml", "B": "/abs/y", "C": ""}


def test_timers_default_on_for_make_run_and_off_for_free_ports() -> None:
    assert StackConfig().timers and not StackConfig(free_ports=True).timers
    assert StackConfig(free_ports=True, enable_timers=True).timers


values = st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True),
                         st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40), max_size=8)


@given(values)
def test_env_file_round_trips(vals: dict[str, str]) -> None:
    assert parse_env_file(env_file_text(vals)) == vals


def test_a_shell_sourcing_the_env_file_exports_the_exact_values(tmp_path: Path) -> None:
    env = stack_overrides(ENDPOINTS) | {"TRICKY": "a b;c='d' $HOME `x`"}
    path = tmp_path / "stack.env"
    path.write_text(env_file_text(env))
    names = " ".join(f'"${k}"' for k in env)
    out = subprocess.run(["bash", "-c", f"set -a; . {path}; set +a; printf '%s\\n' {names}"],
                         capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]})
    assert out.stdout.splitlines() == list(env.values())


def test_the_cli_env_file_reader_sees_the_same_values(tmp_path: Path) -> None:
    """`cspguard ... --env-file var/stack.env` reads the file with python-dotenv, not a shell."""
    from dotenv import dotenv_values

    env = stack_overrides(ENDPOINTS) | {"CSPGUARD_PC_CA_BUNDLE": "/tmp/with space/ca.pem"}
    path = tmp_path / "stack.env"
    path.write_text(env_file_text(env))
    assert dotenv_values(path) == env
