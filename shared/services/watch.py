"""Conditions nobody would notice until harm is blocked or done: the official holiday data running out, and
a payment feed gone silent while nothing is due. ``/api/health`` shows them; the sweep (daily) raises a team
alert for each, once per episode (the alert key names the year / the last event seen)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.services.alerts import AlertKind, send_alert
from shared.services.payments import FEED
from shared.services.policies import calendar, policy_set

if TYPE_CHECKING:
    from shared.ports import Ports
    from shared.services.state import Stores
    from shared.settings import Settings

CALENDAR_WARNING_DAYS = 30


def calendar_status(settings: Settings, now: datetime) -> dict[str, Any]:
    """When official holiday data ends for the policy's country and whether that is within the warning window."""
    policy = policy_set(settings).for_version(None)
    cal = calendar(settings, policy)
    first = cal.first_day_without_official_data()
    today = now.astimezone(policy.tz).date()
    days_left = None if first is None else (first - today).days
    return {"country": cal.country, "first_day_without_official_data": first.isoformat() if first else None,
            "days_left": days_left, "warning": days_left is not None and days_left <= CALENDAR_WARNING_DAYS}


def feed_status(stores: Stores, settings: Settings, now: datetime) -> dict[str, Any]:
    """How long the payment feed has been silent, against the limit that blocks non-payment suspensions."""
    status = stores.feeds.get("feed", FEED)
    limit = settings.payment_feed_max_silence_hours
    if status is None:
        return {"last_event_at": None, "silent_hours": None, "limit_hours": limit, "silent": True}
    hours = (now - status.last_event_at).total_seconds() / 3600
    return {"last_event_at": status.last_event_at.isoformat(), "silent_hours": round(hours, 1),
            "limit_hours": limit, "silent": hours > limit}


def problems(calendar_: dict[str, Any], feed: dict[str, Any]) -> list[str]:
    """The human sentences /api/health lists for these conditions."""
    out = []
    if calendar_["warning"]:
        out.append(f"official holiday data for {calendar_['country']} ends: from "
                   f"{calendar_['first_day_without_official_data']} ({calendar_['days_left']} days) every suspension "
                   "is blocked as calendar-doubtful until the year is confirmed in the calendar override file")
    if feed["silent"]:
        seen = "no payment event was ever received" if feed["last_event_at"] is None else (
            f"no payment event for {feed['silent_hours']} h (since {feed['last_event_at']})")
        out.append(f"payment feed silent: {seen}; limit {feed['limit_hours']} h, non-payment suspensions are blocked")
    return out


def raise_alerts(ctx: Ports, now: datetime) -> list[AlertKind]:
    """Send the team alert of each condition in force (once per year / per silence episode)."""
    sent = []
    cal = calendar_status(ctx.settings, now)
    if cal["warning"]:
        send_alert(ctx, AlertKind.CALENDAR_ENDING, str(cal["first_day_without_official_data"]),
                   problems(cal, {"silent": False})[0])
        sent.append(AlertKind.CALENDAR_ENDING)
    feed = feed_status(ctx.stores, ctx.settings, now)
    if feed["silent"] and ctx.stores.customers():  # an empty portfolio (a fresh install) has no feed yet
        send_alert(ctx, AlertKind.PAYMENT_FEED_SILENT, str(feed["last_event_at"] or "never"),
                   problems({"warning": False}, feed)[0])
        sent.append(AlertKind.PAYMENT_FEED_SILENT)
    return sent
