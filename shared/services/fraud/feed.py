"""Is the usage feed advancing? The newest usage day each scan saw, and the alarm when it stops.

Partner Center's daily-rated usage lags about a day; a feed whose newest day has not moved for longer than
``fraud_usage_max_silence_hours`` means detection is blind: the team is told once per stalled day and
``/api/health`` reports it until the feed moves again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.storage.documents import DocumentStore

if TYPE_CHECKING:
    from shared.ports import Ports
    from shared.settings import Settings

log = logging.getLogger("cspguard.fraud.feed")
PARTITION, ROW = "usagefeed", "status"


class UsageFeedStatus(BaseModel):
    """Kept in the ``runs`` table (partition "usagefeed", row "status")."""

    newest_usage_day: date | None = None
    advanced_at: datetime | None = None  # when a scan first saw ``newest_usage_day``
    checked_at: datetime | None = None
    alerted_for: date | None = None  # the stalled day the team was told about

    def silent_hours(self, now: datetime) -> float | None:
        return None if self.advanced_at is None else (now - self.advanced_at).total_seconds() / 3600

    def stalled(self, now: datetime, max_hours: float) -> bool:
        hours = self.silent_hours(now)
        return hours is not None and hours > max_hours


UsageFeed = DocumentStore[UsageFeedStatus]  # ``FraudStores.usage_feed``


def record_feed(store: UsageFeed, newest: date | None, now: datetime) -> UsageFeedStatus:
    """Note the newest usage day of a completed stream (advanced_at moves only when it moves)."""

    def change(cur: UsageFeedStatus | None) -> UsageFeedStatus:
        cur = cur or UsageFeedStatus()
        if newest is not None and (cur.newest_usage_day is None or newest > cur.newest_usage_day):
            return UsageFeedStatus(newest_usage_day=newest, advanced_at=now, checked_at=now)
        return cur.model_copy(update={"checked_at": now, "advanced_at": cur.advanced_at or now})

    return store.update(PARTITION, ROW, change) or UsageFeedStatus()


def feed_report(settings: Settings, store: UsageFeed, now: datetime) -> tuple[dict[str, Any], list[str]]:
    """(the ``usage_feed`` section of /api/health, problems)."""
    status = store.get(PARTITION, ROW)
    if status is None:
        return {"status": "no scan yet"}, []
    hours = status.silent_hours(now)
    stalled = status.stalled(now, settings.fraud_usage_max_silence_hours)
    report = {"status": "stalled" if stalled else "ok",
              "newest_usage_day": status.newest_usage_day.isoformat() if status.newest_usage_day else None,
              "advanced_at": status.advanced_at.isoformat() if status.advanced_at else None,
              "silent_hours": round(hours, 1) if hours is not None else None,
              "max_silence_hours": settings.fraud_usage_max_silence_hours}
    problems = [f"usage feed has not advanced for {hours:.0f} h (newest usage day {status.newest_usage_day}, "
                f"limit {settings.fraud_usage_max_silence_hours:g} h): fraud detection is blind"] if stalled else []
    return report, problems


async def alarm_if_stalled(ctx: Ports, status: UsageFeedStatus, now: datetime) -> bool:
    """Tell the team once per stalled day (webhook if configured, else the collections contact)."""
    from shared.notify import Channel, DeliveryError, Notification, TemplateId

    settings = ctx.settings
    if not status.stalled(now, settings.fraud_usage_max_silence_hours) or status.newest_usage_day is None:
        return False
    if status.alerted_for == status.newest_usage_day:
        return False
    key = f"fraud:usage-stalled:{status.newest_usage_day.isoformat()}"
    channel, recipient = ((Channel.WEBHOOK, "team") if settings.team_webhook_url
                          else (Channel.EMAIL, settings.collections_contact))
    note = Notification(idempotency_key=key, channel=channel, recipient=recipient,
                        template_id=TemplateId.TEAM_USAGE_STALLED, language=settings.fraud_language,
                        context={"newest_usage_day": status.newest_usage_day.isoformat(),
                                 "advanced_at": status.advanced_at.isoformat() if status.advanced_at else "-",
                                 "silent_hours": round(status.silent_hours(now) or 0, 1),
                                 "max_silence_hours": settings.fraud_usage_max_silence_hours})
    try:
        await ctx.idempotency.run_once_async("fraud-alert", key, lambda: asyncio.to_thread(
            lambda: ctx.notifier.send(note).model_dump(mode="json")))
    except DeliveryError as exc:
        log.warning("usage-stalled alert not delivered: %s", exc)
        return False
    ctx.fraud.usage_feed.update(PARTITION, ROW, lambda cur: cur.model_copy(
        update={"alerted_for": status.newest_usage_day}) if cur else None)
    return True
