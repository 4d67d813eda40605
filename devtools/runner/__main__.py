"""``python -m devtools.runner``: run function_app.py locally until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from devtools.runner.metadata import read_settings_file
from devtools.runner.runner import FUNCTION_KEY_SETTING, MASTER_KEY_SETTING, LocalRunner


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m devtools.runner", description=__doc__)
    p.add_argument("--port", type=int, default=7071, help="HTTP port on 127.0.0.1 (default 7071)")
    p.add_argument("--app", default="function_app", help="module holding the FunctionApp `app`")
    p.add_argument("--settings", type=Path, default=None,
                   help="a local.settings.json-style file (default: local.settings.json, then the example)")
    p.add_argument("--host-json", type=Path, default=Path("host.json"))
    p.add_argument("--no-timers", action="store_true", help="do not run timer triggers on their schedule")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # the SDK logs every request at INFO
    settings = read_settings_file(args.settings) if args.settings else None
    runner = LocalRunner(args.app, settings, args.host_json, args.port, not args.no_timers)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    runner.start()
    for f in runner.functions:
        print(f"  {f.name}: {f.trigger.kind} {getattr(f.trigger, 'route', '') or ''}".rstrip())
    print(f"csp-guard local runner on {runner.base_url} (keys: settings {FUNCTION_KEY_SETTING}, "
          f"{MASTER_KEY_SETTING}); Ctrl-C to stop", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        runner.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
