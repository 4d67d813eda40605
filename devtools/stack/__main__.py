"""``python -m devtools.stack run|demo``: the local stack until Ctrl-C, or one scripted demo pass."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from devtools.stack.config import DEFAULT_STATE_DIR, PORT_ENV, StackConfig, StackError, ports_from_env
from devtools.stack.core import Stack


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m devtools.stack", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start everything on fixed ports until Ctrl-C / SIGTERM",
                         description="Ports move with " + ", ".join(PORT_ENV.values()) + ".")
    run.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                     help="Azurite data, sandbox CA, saved mail and stack.env (default: var/)")
    run.add_argument("--seed", type=int, default=1, help="sandbox portfolio seed (default 1)")
    run.add_argument("--customers", type=int, default=25, help="sandbox portfolio size (default 25)")
    run.add_argument("--settings", type=Path, default=None,
                     help="settings file (default: local.settings.json, else local.settings.example.json)")
    run.add_argument("--no-timers", action="store_true", help="do not run timer triggers on their schedule")
    demo = sub.add_parser("demo", help="start a throwaway stack, run the scripted pass, stop")
    demo.add_argument("--customers", type=int, default=25)
    return ap.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    """Start, print the banner, wait for a signal, stop. A second signal kills what is left and exits."""
    from devtools.demo import seed_sample_data

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # the SDK logs every request at INFO
    config = StackConfig(ports=ports_from_env(os.environ), state_dir=args.state_dir.resolve(), seed=args.seed,
                         customers=args.customers, settings_file=args.settings,
                         enable_timers=False if args.no_timers else None)
    stack = Stack(config)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if done.is_set():
            print("second signal: forcing stop", file=sys.stderr, flush=True)
            stack.force_stop()
            os._exit(130)
        done.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    try:
        stack.start()
        if not done.is_set():
            seeded = seed_sample_data(stack)
            print(stack.banner(notes=(f"data       {seeded}",)), flush=True)
        while not done.wait(0.5):
            pass
        print("stopping the local stack...", flush=True)
    finally:
        stack.stop()
    print("stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "run":
            return run(args)
        from devtools.demo import main as demo_main

        return demo_main(customers=args.customers)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
