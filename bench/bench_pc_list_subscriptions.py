"""Benchmark: list every customer and every customer's subscriptions against the sandbox.

The sandbox runs in a child process (so the figures are the client's own), with a known partner
rate limit; the client is paced slightly under it. Prints requests, elapsed time, the achieved rate
(answered requests, 429s excluded) as a share of the allowed rate (goal >= 0.9), 429s seen, calls
that failed for good (goal 0) and peak memory (tracemalloc peak and ru_maxrss).

``--overdrive 4`` configures the client at 4x the sandbox's limit instead (a lower limit and a
smaller portfolio keep it to about two minutes): the pacer must find the real limit from the 429s
and still fail no call.

    .venv/bin/python bench/bench_pc_list_subscriptions.py [--customers 20000] [--rate 12000]
    .venv/bin/python bench/bench_pc_list_subscriptions.py --overdrive 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.partner_center import (  # noqa: E402
    CHINA,
    AppOnlyCredential,
    PartnerCenterClient,
    PartnerCenterError,
    RetryPolicy,
)

CHILD = """
import json, sys
from devtools.sandbox import Sandbox, SandboxConfig
cfg = SandboxConfig(seed=7, customers={customers}, rate_per_minute={rate},
                    customer_rate_per_minute={customer_rate}, page_size_cap=500)
sb = Sandbox(cfg).start()
print(json.dumps({{"base_url": sb.base_url, "authority_host": sb.authority_host, "ca": str(sb.ca_pem_path),
                  "tenant": sb.tenant_id, "client": sb.client_id, "secret": sb.client_secret}}), flush=True)
sys.stdin.read()
sb.stop()
"""


async def run(info: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
    profile = CHINA.with_overrides(info["base_url"], info["authority_host"])
    ca = Path(info["ca"])
    credential = AppOnlyCredential(profile, info["tenant"], info["client"], info["secret"], ca_bundle=ca)
    paced = args.rate * args.margin
    client = PartnerCenterClient.create(
        profile,
        credential,
        rate_per_minute=paced,
        customer_rate_per_minute=args.customer_rate * args.margin,
        max_concurrency=args.concurrency,
        ca_bundle=ca,
        retry=RetryPolicy(max_attempts=6, backoff_initial=0.2, backoff_max=5),
    )
    await credential.token()  # the token round trip is not part of the listing figures
    client.transport.requests_sent = 0
    queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=args.concurrency * 4)
    counts = {"customers": 0, "subscriptions": 0, "failed": 0}

    async def produce() -> None:
        try:
            async for c in client.iter_customers(page_size=500):
                counts["customers"] += 1
                await queue.put(c.id)
        except PartnerCenterError as exc:
            counts["failed"] += 1
            print(f"customer listing failed: {exc}", file=sys.stderr)
        finally:
            for _ in range(args.workers):
                await queue.put(None)

    async def work() -> None:
        while (customer_id := await queue.get()) is not None:
            try:
                subs = await client.list_subscriptions(customer_id)
                counts["subscriptions"] += len(subs)
            except PartnerCenterError as exc:
                counts["failed"] += 1
                print(f"{customer_id}: {exc}", file=sys.stderr)

    started = time.perf_counter()
    async with client:
        await asyncio.gather(produce(), *(work() for _ in range(args.workers)))
        elapsed = time.perf_counter() - started
        sent, throttled = client.transport.requests_sent, client.transport.throttled_responses
        final_rate = client.transport.pacer.rate()
    return {
        **counts,
        "requests": sent,
        "throttled": throttled,
        "elapsed": elapsed,
        "rate_per_minute": (sent - throttled) / elapsed * 60,
        "final_pace": final_rate,
    }


def pass_against_sandbox(
    args: argparse.Namespace, customers: int, traced: bool
) -> tuple[dict[str, float], int]:
    """Start a fresh sandbox child (fresh rate window), list everything, return figures and traced peak."""
    code = CHILD.format(customers=customers, rate=args.rate, customer_rate=args.customer_rate)
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise SystemExit("sandbox did not start")
        info = json.loads(line)
        if traced:
            tracemalloc.start()
        figures = asyncio.run(run(info, args))
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        tracemalloc.stop()
        return figures, peak
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=12_000, help="sandbox partner limit per minute")
    parser.add_argument(
        "--customer-rate", type=int, default=1_000, help="sandbox per-customer limit per minute"
    )
    parser.add_argument("--margin", type=float, default=0.97, help="client pace as a share of the limit")
    parser.add_argument("--concurrency", type=int, default=24, help="client max concurrent requests")
    parser.add_argument("--workers", type=int, default=48, help="customers listed in parallel")
    parser.add_argument(
        "--memory-customers",
        type=int,
        default=2_000,
        help="customers in the separate tracemalloc pass (tracemalloc slows Python too much to trace "
        "the timed pass; 0 skips it)",
    )
    parser.add_argument(
        "--overdrive",
        type=float,
        default=0.0,
        help="pace the client at this multiple of the sandbox limit (e.g. 4); unless given, also "
        "--rate 600 --customers 1400 --memory-customers 0 (about two minutes)",
    )
    args = parser.parse_args()
    if args.overdrive:
        given = {a.split("=")[0] for a in sys.argv[1:]}
        args.margin = args.overdrive
        args.rate = args.rate if "--rate" in given else 600
        args.customers = args.customers if "--customers" in given else 1400
        args.memory_customers = args.memory_customers if "--memory-customers" in given else 0

    figures, _ = pass_against_sandbox(args, args.customers, traced=False)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss_mib = usage.ru_maxrss / 1024
    cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000 / max(1, figures["requests"])
    print(
        f"customers listed        {figures['customers']:.0f} (subscriptions {figures['subscriptions']:.0f})"
    )
    print(f"requests made           {figures['requests']:.0f}")
    print(f"elapsed                 {figures['elapsed']:.1f} s")
    print(
        f"achieved rate           {figures['rate_per_minute']:.0f}/min of {args.rate}/min allowed "
        f"= {figures['rate_per_minute'] / args.rate:.3f} (goal >= 0.9; client configured at "
        f"{args.margin}x the limit; 429s excluded)"
    )
    print(f"429s seen               {figures['throttled']:.0f}")
    print(f"pace at the end         {figures['final_pace']:.0f}/min (configured {args.rate * args.margin:.0f}/min)")
    print(f"failed for good         {figures['failed']:.0f} (goal 0)")
    print(f"client CPU per request  {cpu_ms:.2f} ms (whole client process, imports included)")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    sandbox_ms = (children.ru_utime + children.ru_stime) * 1000 / max(1, figures["requests"])
    print(f"sandbox CPU per request {sandbox_ms:.2f} ms (child process, start-up included)")
    print(f"peak memory             ru_maxrss {rss_mib:.1f} MiB (timed pass)")
    if args.memory_customers:
        mem, peak = pass_against_sandbox(args, args.memory_customers, traced=True)
        print(
            f"peak memory             tracemalloc {peak / 2**20:.1f} MiB over "
            f"{mem['customers']:.0f} customers, {mem['requests']:.0f} requests "
            f"(separate traced pass, {mem['failed']:.0f} failed)"
        )


if __name__ == "__main__":
    main()
