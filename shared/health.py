"""Health report: settings validity, storage reachability, configuration problems. No secrets."""

from __future__ import annotations

from typing import Any

from shared.settings import Settings, SettingsError, load_settings


def check_health() -> dict[str, Any]:
    """Return {"status": "ok"|"degraded"|"error", "checks": {...}, "problems": [...]}."""
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
        problems.extend(_payment_feed(settings))
    status = "error" if checks["storage"] != "ok" else ("degraded" if problems else "ok")
    return {"status": status, "checks": checks, "problems": problems, "cloud": settings.pc_cloud.value,
            "enforcement_enabled": settings.enforcement_enabled, "queues": queues}


def _payment_feed(settings: Settings) -> list[str]:
    """A payment feed silent past the limit: every non-payment suspension is refused until it resumes."""
    from shared.clock import utcnow
    from shared.services.payments import feed_age_hours
    from shared.services.state import Stores
    from shared.storage.clients import table_service

    age = feed_age_hours(Stores(table_service(settings)), utcnow())
    limit = settings.payment_feed_max_silence_hours
    if age is not None and age > limit:
        return [f"payment feed silent for {age:.1f} h (limit {limit:g} h, CSPGUARD_PAYMENT_FEED_MAX_SILENCE_HOURS): "
                "non-payment suspensions are refused until payment events arrive again"]
    return []
