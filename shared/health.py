"""Health report: settings validity, storage reachability, configuration problems. No secrets."""

from __future__ import annotations

from typing import Any

from shared.settings import SettingsError, load_settings


def check_health() -> dict[str, Any]:
    """Return {"status": "ok"|"degraded"|"error", "checks": {...}, "problems": [...], "warnings": [...],
    "calendar": {...}, "payment_feed": {...}}. Warnings (holiday data ending within 30 days, a silent payment
    feed) do not change the status: suspensions already fail safe, and the team gets an alert."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        return {"status": "error", "checks": {"settings": "invalid"}, "problems": str(exc).splitlines()[1:]}
    checks: dict[str, str] = {"settings": "ok"}
    problems = settings.problems()
    try:
        from shared.storage.clients import queue_service

        next(iter(queue_service(settings).list_queues(results_per_page=1)), None)
        checks["storage"] = "ok"
    except Exception as exc:  # any failure here means "unreachable"; the type is reported
        checks["storage"] = "unreachable"
        problems.append(f"storage unreachable: {type(exc).__name__}")
    queues: dict[str, dict[str, int]] = {}
    if checks["storage"] == "ok":
        from shared.messaging import Queue
        from shared.observability import observe_queue_depths

        for name, (backlog, poison) in observe_queue_depths(queue_service(settings), list(Queue)).items():
            queues[name] = {"backlog": backlog, "poison": poison}
            if poison:
                problems.append(f"{poison} message(s) in {name}-poison need an operator")
    watched: dict[str, Any] = {}
    usage_feed: dict[str, Any] = {}
    try:
        from shared.clock import utcnow
        from shared.context import AppContext
        from shared.services import watch
        from shared.services.fraud.feed import feed_report

        now = utcnow()
        watched["calendar"] = watch.calendar_status(settings, now)
        if checks["storage"] == "ok":
            ctx = AppContext(settings)  # the Azure root, for these settings (the app's own may not be valid)
            watched["payment_feed"] = watch.feed_status(ctx.stores, settings, now)
            usage_feed, stalled = feed_report(settings, ctx.fraud.usage_feed, now)
            problems += stalled
        # warnings, not problems: the app works (and fails safe); a non-2xx health check would take every
        # instance out of rotation on the day the calendar warning starts
        watched["warnings"] = watch.problems(watched["calendar"], watched.get("payment_feed", {"silent": False}))
    except Exception as exc:  # a policy or calendar file that cannot be read is a problem, not a crash
        problems.append(f"cannot check the holiday calendar / payment and usage feeds: {type(exc).__name__}: {exc}")
    status = "error" if checks["storage"] != "ok" else ("degraded" if problems else "ok")
    return {"status": status, "checks": checks, "problems": problems, "cloud": settings.pc_cloud.value,
            "enforcement_enabled": settings.enforcement_enabled, "queues": queues, "usage_feed": usage_feed,
            **watched}

