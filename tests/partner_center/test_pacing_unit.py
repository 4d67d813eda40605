"""The adaptive, fair pacer through the public client, on virtual time (no real waiting).

A fake Partner Center over ``httpx.MockTransport`` enforces the sandbox's sliding-window limits on
the loop's virtual clock (rejected calls count against the limit, as documented), so these tests
show the whole loop: 429 -> pacer slows and holds the scope -> retries go first -> rate recovers.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import httpx

from devtools.sandbox.throttle import SlidingWindow
from shared.partner_center import (
    CHINA,
    PartnerCenterClient,
    PartnerCenterError,
    RetryPolicy,
    Throttled,
)
from tests.partner_center.conftest import FakeTokens, page
from tests.partner_center.virtual_time import run

FEW_RETRIES = RetryPolicy(max_attempts=3, backoff_initial=0.1, backoff_max=1, jitter=0.0)


class LimitedServer:
    """Sliding-window limits per partner and per customer on the loop's clock; logs every arrival."""

    def __init__(self, per_minute: int, customer_per_minute: int = 10_000) -> None:
        self.limits = (per_minute, customer_per_minute)
        self.window = SlidingWindow()
        self.arrivals: list[tuple[float, str, int]] = []  # (time, customer, status)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = asyncio.get_running_loop().time()
        customer = request.url.path.split("/")[3]
        wait = self.window.hit("partner", self.limits[0], now) or self.window.hit(
            customer, self.limits[1], now
        )
        self.arrivals.append((now, customer, 429 if wait else 200))
        if wait:
            return httpx.Response(
                429,
                headers={"Retry-After": str(wait)},
                json={"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {wait} seconds."},
            )
        return httpx.Response(200, json=page([{"id": f"{customer}-s1", "status": "active"}]))

    def accepted(self) -> int:
        return sum(1 for *_, status in self.arrivals if status == 200)

    def throttled(self) -> int:
        return len(self.arrivals) - self.accepted()


def client_for(handler: Any, rate: float, customer_rate: float = 60_000, **kw: Any) -> PartnerCenterClient:
    http = httpx.AsyncClient(base_url=CHINA.base_url, transport=httpx.MockTransport(handler))
    kw.setdefault("retry", FEW_RETRIES)
    return PartnerCenterClient.create(
        CHINA, FakeTokens(), rate_per_minute=rate, customer_rate_per_minute=customer_rate, http=http, **kw
    )


async def list_all(client: PartnerCenterClient, customers: list[str], workers: int) -> Counter[str]:
    """List every customer's subscriptions with ``workers`` in parallel; count outcomes."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for c in customers:
        queue.put_nowait(c)
    outcome: Counter[str] = Counter()

    async def work() -> None:
        while not queue.empty():
            cid = queue.get_nowait()
            try:
                await client.list_subscriptions(cid)
                outcome["ok"] += 1
            except PartnerCenterError:
                outcome["failed"] += 1

    await asyncio.gather(*(work() for _ in range(workers)))
    return outcome


def test_four_times_the_allowed_rate_converges_and_no_call_fails() -> None:
    server = LimitedServer(per_minute=120)
    customers = [f"c{i:04d}" for i in range(720)]

    async def scenario() -> tuple[Counter[str], float, float, float]:
        async with client_for(server, rate=480, max_concurrency=8) as client:
            loop = asyncio.get_running_loop()
            started = loop.time()
            outcome = await list_all(client, customers, workers=32)
            return outcome, loop.time() - started, client.transport.pacer.rate(), client.transport.pacer.partner.cuts

    outcome, elapsed, rate, cuts = run(scenario())
    assert outcome == Counter(ok=720)  # with 3 attempts for non-429 failures: 429s never exhaust a call
    accepted_per_minute = server.accepted() / elapsed * 60
    assert accepted_per_minute >= 0.9 * 120  # achieved / allowed >= 0.9
    assert server.throttled() <= 0.1 * server.accepted()  # 429s stay rare once adapted
    assert 90 <= rate <= 140 and cuts >= 1  # the pace settled near what the service allows


def test_a_throttled_call_is_retried_before_new_calls() -> None:
    arrivals: list[tuple[float, str, int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        customer = request.url.path.split("/")[3]
        status = 429 if customer == "c0" and not any(c == "c0" for _, c, _ in arrivals) else 200
        arrivals.append((asyncio.get_running_loop().time(), customer, status))
        if status == 429:
            return httpx.Response(429, headers={"Retry-After": "5"}, json={"statusCode": 429})
        return httpx.Response(200, json=page([]))

    async def scenario() -> None:
        async with client_for(handler, rate=60) as client:  # one a second, no burst
            await asyncio.gather(*(client.list_subscriptions(f"c{i}") for i in range(4)))

    run(scenario())
    # c0 got the 429 while c1..c3 queued behind it; its retry goes first when the block lifts.
    assert [(c, s) for _, c, s in arrivals] == [("c0", 429), ("c0", 200), ("c1", 200), ("c2", 200), ("c3", 200)]
    assert arrivals[1][0] - arrivals[0][0] >= 5  # and only after the Retry-After


def test_rate_recovers_gradually_after_a_storm() -> None:
    state = {"storm": True}

    def handler(request: httpx.Request) -> httpx.Response:
        if state["storm"]:
            state["storm"] = False
            return httpx.Response(429, headers={"Retry-After": "2"}, json={"statusCode": 429})
        return httpx.Response(200, json=page([]))

    async def scenario() -> list[float]:
        async with client_for(handler, rate=600) as client:
            pacer = client.transport.pacer
            rates = [pacer.rate()]
            await client.list_subscriptions("c")  # 429 then success: the rate is cut
            rates.append(pacer.rate())
            for _ in range(3):
                await asyncio.sleep(60)
                rates.append(pacer.rate())
            await asyncio.sleep(3600)
            rates.append(pacer.rate())
        return rates

    rates = run(scenario())
    assert rates[0] == 600
    assert rates[1] == 300  # at most halved per episode (1 call seen in the window)
    assert rates[1] < rates[2] < rates[3] < rates[4] < 600  # additive climb, no jump back
    assert rates[-1] == 600  # back to the configured ceiling


def test_a_busy_customer_is_slowed_without_slowing_the_partner() -> None:
    server = LimitedServer(per_minute=10_000, customer_per_minute=30)

    async def scenario() -> tuple[float, float, float, Counter[str]]:
        async with client_for(server, rate=6000, customer_rate=120) as client:
            busy = list_all(client, ["busy"] * 90, workers=4)
            others = list_all(client, [f"c{i}" for i in range(200)], workers=4)
            outcome = sum(await asyncio.gather(busy, others), Counter())
            pacer = client.transport.pacer
            return pacer.rate(), pacer.rate("busy"), pacer.rate("c1"), outcome

    partner, busy, other, outcome = run(scenario())
    assert outcome == Counter(ok=290)
    assert partner == 6000 and other == 120  # only the busy customer's scope was cut
    assert busy < 60
    assert all(status == 200 for _, customer, status in server.arrivals if customer != "busy")


def test_429s_give_up_only_after_the_throttle_budget() -> None:
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(asyncio.get_running_loop().time())
        return httpx.Response(429, json={"statusCode": 429, "message": "Try again in 30 seconds."})

    async def scenario() -> Throttled:
        policy = RetryPolicy(max_attempts=2, max_throttled_seconds=600)
        async with client_for(handler, rate=600, retry=policy) as client:
            try:
                await client.get_customer("c1")
            except Throttled as exc:
                return exc
        raise AssertionError("expected Throttled")

    exc = run(scenario())
    assert exc.retry_after == 30.0
    assert len(sent) > 2  # 429s do not count against max_attempts
    assert 600 <= sent[-1] - sent[0] <= 660  # each retry waited the Retry-After; gave up after the budget
    assert all(b - a >= 30 for a, b in itertools.pairwise(sent))


def test_a_cancelled_waiter_gives_its_place_up() -> None:
    async def scenario() -> int:
        async with client_for(lambda r: httpx.Response(200, json=page([])), rate=60) as client:
            await client.list_subscriptions("a")
            waiting = asyncio.create_task(client.list_subscriptions("b"))
            await asyncio.sleep(0.1)
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)
            await client.list_subscriptions("c")
            return client.transport.requests_sent

    assert run(scenario()) == 2


def test_a_waiter_cancelled_after_its_grant_returns_the_permit() -> None:
    from shared.partner_center._pacing import Pacer

    async def scenario() -> None:
        pacer = Pacer(60_000, 60_000, max_in_flight=1)
        await pacer.acquire("a")
        waiting = asyncio.create_task(pacer.acquire("b"))
        await asyncio.sleep(0)  # waits for the only permit
        pacer.release()  # the permit goes to "b" at once...
        waiting.cancel()  # ...which is cancelled before it runs
        await asyncio.gather(waiting, return_exceptions=True)
        await asyncio.wait_for(pacer.acquire("c"), timeout=5)  # the permit came back: no deadlock

    run(scenario())
