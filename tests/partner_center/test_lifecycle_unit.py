"""Suspend/reactivate against a small stateful fake: whole-resource PATCH, quoted etag, 2055, add-on order."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shared.partner_center import EtagMismatch, PartnerCenterClient, RestrictionError, SubscriptionStatus
from shared.partner_center._lifecycle import if_match, patch_body
from tests.partner_center.conftest import page

MakeClient = Callable[..., PartnerCenterClient]
SUB = re.compile(r"^/v1/customers/(?P<c>[^/]+)/subscriptions/(?P<s>[^/]+)(?P<addons>/addons)?$")


class FakeSubscriptions:
    """Keeps subscriptions with etags; can answer the next N PATCHes with 2055."""

    def __init__(self) -> None:
        self.subs: dict[str, dict[str, Any]] = {}
        self.version = 0
        self.stale_patches = 0
        self.log: list[tuple[str, str, str]] = []  # (method, subscription, status sent)
        self.if_match: list[str] = []

    def add(self, sid: str, status: str = "active", parent: str | None = None) -> None:
        self.version += 1
        self.subs[sid] = {
            "id": sid,
            "status": status,
            "offerId": "O1",
            "quantity": 3,
            "friendlyName": sid,
            "parentSubscriptionId": parent,
            "autoRenewEnabled": True,
            "attributes": {"etag": f"e{self.version}", "objectType": "Subscription"},
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        m = SUB.match(request.url.path)
        assert m, request.url.path
        sid = m["s"]
        if m["addons"]:
            return httpx.Response(
                200, json=page([s for s in self.subs.values() if s["parentSubscriptionId"] == sid])
            )
        if request.method == "GET":
            return httpx.Response(200, json=self.subs[sid])
        body = json.loads(request.content)
        self.if_match.append(request.headers.get("If-Match", ""))
        self.log.append(("PATCH", sid, body["status"]))
        current = self.subs[sid]
        if self.stale_patches:
            self.stale_patches -= 1
            self.version += 1
            current["attributes"]["etag"] = f"e{self.version}"  # someone else touched it
            return httpx.Response(400, json={"code": 2055, "description": "etag mismatch"})
        assert request.headers["If-Match"] == f'"{current["attributes"]["etag"]}"'
        parent = self.subs.get(current["parentSubscriptionId"] or "")
        if parent and parent["status"] != "active" and body["status"] == "active":
            return httpx.Response(409, json={"code": "27009", "description": "parent not active"})
        assert {k: v for k, v in body.items() if k not in ("status", "attributes")} == {
            k: v for k, v in current.items() if k not in ("status", "attributes")
        }, "the whole resource must be sent back"
        self.version += 1
        current.update(
            status=body["status"], attributes={**current["attributes"], "etag": f"e{self.version}"}
        )
        return httpx.Response(200, json=current)


@pytest.fixture
def fake() -> FakeSubscriptions:
    f = FakeSubscriptions()
    f.add("base")
    f.add("addon1", parent="base")
    f.add("addon2", parent="base")
    f.add("addon3", status="deleted", parent="base")
    return f


async def test_suspend_parent_then_addons(make_client: MakeClient, fake: FakeSubscriptions) -> None:
    async with make_client(fake) as client:
        results = await client.suspend("cust", "base")
    assert [r.subscription_id for r in results] == ["base", "addon1", "addon2"]
    assert all(r.ok and r.changed and r.before == "active" and r.after == "suspended" for r in results)
    assert [sid for _, sid, _ in fake.log] == ["base", "addon1", "addon2"]
    assert all(v.startswith('"') for v in fake.if_match)
    assert fake.subs["addon3"]["status"] == "deleted"


async def test_reactivate_parent_first(make_client: MakeClient, fake: FakeSubscriptions) -> None:
    async with make_client(fake) as client:
        await client.suspend("cust", "base")
        fake.log.clear()
        results = await client.reactivate("cust", "base")
    assert [(sid, st) for _, sid, st in fake.log] == [
        ("base", "active"),
        ("addon1", "active"),
        ("addon2", "active"),
    ]
    assert [r.after for r in results] == [SubscriptionStatus.ACTIVE] * 3


async def test_addon_before_parent_is_refused(make_client: MakeClient, fake: FakeSubscriptions) -> None:
    async with make_client(fake) as client:
        await client.suspend("cust", "base")
        with pytest.raises(RestrictionError) as info:
            await client.reactivate("cust", "addon1")
    assert info.value.code == "27009"


async def test_already_in_target_is_a_no_op(make_client: MakeClient, fake: FakeSubscriptions) -> None:
    fake.subs["base"]["status"] = "suspended"
    async with make_client(fake) as client:
        [result] = await client.suspend("cust", "base", include_addons=False)
    assert not result.changed and result.ok
    assert fake.log == []


async def test_stale_etag_is_retried_once(make_client: MakeClient, fake: FakeSubscriptions) -> None:
    fake.stale_patches = 1
    async with make_client(fake) as client:
        [result] = await client.suspend("cust", "base", include_addons=False)
    assert result.ok and result.etag_retries == 1
    assert len(fake.if_match) == 2 and fake.if_match[0] != fake.if_match[1]


async def test_stale_etag_twice_raises(make_client: MakeClient, fake: FakeSubscriptions) -> None:
    fake.stale_patches = 2
    async with make_client(fake) as client:
        with pytest.raises(EtagMismatch):
            await client.suspend("cust", "base")
    assert len(fake.log) == 2
    assert fake.subs["base"]["status"] == "active"


def test_if_match_quotes_once() -> None:
    assert if_match("abc") == '"abc"'
    assert if_match('"abc"') == '"abc"'
    assert if_match('W/"abc"') == 'W/"abc"'


def test_patch_body_keeps_everything_but_status() -> None:
    raw = {"id": "s", "status": "active", "unknownField": {"x": 1}, "quantity": 2}
    body = patch_body(raw, SubscriptionStatus.SUSPENDED)
    assert body == {**raw, "status": "suspended"}
    assert raw["status"] == "active"
