"""``python -m devtools.sandbox``: run the sandbox until Ctrl-C, printing how to reach it."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from devtools.sandbox import Sandbox, SandboxConfig


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m devtools.sandbox", description=__doc__)
    ap.add_argument("--port", type=int, default=8443)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--customers", type=int, default=50)
    ap.add_argument("--cloud", choices=["china", "global"], default="china")
    ap.add_argument("--usage-days", type=int, default=30)
    ap.add_argument("--state-dir", type=Path, default=Path("var/sandbox"))
    args = ap.parse_args(argv)
    config = SandboxConfig(
        seed=args.seed, customers=args.customers, cloud=args.cloud, usage_days=args.usage_days, port=args.port
    )
    sb = Sandbox(config, state_dir=args.state_dir).start()
    print(
        f"Partner Center sandbox at {sb.base_url} "
        f"({config.cloud}, seed {config.seed}, {config.customers} customers)"
    )
    print(f"  CSPGUARD_PC_BASE_URL={sb.base_url}")
    print(f"  CSPGUARD_PC_AUTHORITY_HOST={sb.authority_host}")
    print(f"  CSPGUARD_PC_CA_BUNDLE={sb.ca_pem_path.resolve()}")
    print(f"  CSPGUARD_PC_TENANT_ID={sb.tenant_id}")
    print(f"  CSPGUARD_PC_CLIENT_ID={sb.client_id}")
    print(f"  CSPGUARD_PC_CLIENT_SECRET={sb.client_secret}")
    print(f"  admin: {sb.base_url}/_sandbox/state   (Ctrl-C to stop)", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()


if __name__ == "__main__":
    main()
