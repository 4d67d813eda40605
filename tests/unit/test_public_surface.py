"""Each package under shared/ declares its public surface (``__all__``) and it is pinned here, sorted, so that
adding or dropping a public name is a visible diff in this file (a deliberate change, reviewed as one).

The Partner Center client's surface is pinned in tests/partner_center/test_models_unit.py (reused below)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tests.partner_center.test_models_unit import SURFACE as PARTNER_CENTER_SURFACE

SHARED = Path(__file__).resolve().parents[2] / "shared"

PINNED: dict[str, list[str]] = {
    "shared.collections": [
        "Action", "Approval", "Calendar", "CalendarError", "CalendarOverrides", "CollectionsCase",
        "CollectionsError", "CustomerLedger", "CustomerOverrides", "Decision", "DecisionChange", "Exemption",
        "LedgerError", "ManualHold", "Policy", "PolicyError", "PolicySet", "PromiseToPay", "Reason",
        "SentNotice", "Snapshot", "apply_event", "apply_events", "diff_decisions", "evaluate", "parse_policy",
        "preview", "render_policy_document",
    ],
    "shared.console": [
        "i18n", "pages",
    ],
    "shared.domain": [
        "CreditLimit", "Currency", "CurrencyMismatch", "CustomerId", "CustomerUpdated", "DisputeResolved",
        "DomainError", "EventId", "InvalidCustomerId", "InvoiceAdjusted", "InvoiceCredited", "InvoiceDisputed",
        "InvoiceId", "InvoiceIssued", "InvoiceWrittenOff", "Money", "PaymentEvent", "PaymentId",
        "PaymentInTransit", "PaymentReceived", "normalise_customer_id", "parse_event",
    ],
    "shared.fraud": [
        "Assessment", "BacktestReport", "Case", "CaseChange", "CaseError", "CaseStatus", "ContainmentFacts",
        "ContainmentPlan", "CustomerProfile", "DailySpend", "Detector", "EvidencePack", "FraudError",
        "FraudEvent", "History", "Outcome", "PeerBaseline", "ReactivationPlan", "RuleFigures", "RuleHit",
        "Rules", "RulesError", "Signal", "SpendNotice", "UsageLine", "add_note", "aggregate", "assess",
        "assess_customer", "backtest", "containment_facts", "containment_line", "containment_plan",
        "evidence_pack", "open_or_update", "parse_rules", "peer_baselines", "record_action",
        "record_containment", "render_markdown", "resolve", "with_fraud_events",
    ],
    "shared.messaging": [
        "Envelope", "EnvelopeError", "MAX_ENCODED_BYTES", "MessageTooLarge", "MessagingError", "Queue",
        "QueueProducer", "decode_envelope", "encode_body",
    ],
    "shared.notify": [
        "Channel", "DeliveryError", "EmailTransport", "NotConfigured", "Notification",
        "NotifyError", "RenderedMessage", "RetryPolicy", "SUPPORTED_LANGUAGES", "SendResult",
        "SmtpDeliveryError", "SmtpSender", "TEAM_RECIPIENT", "TemplateContextError", "TemplateError",
        "TemplateId", "UnknownTemplate", "WebhookDelivery", "WebhookDeliveryError", "WebhookSender",
        "WebhookTransport", "build_email", "format_amount", "format_date", "format_datetime", "message_id_for",
        "normalize_language", "render_notice", "send_notification", "team_notification", "webhook_payload",
    ],
    "shared.observability": [
        "APP_LOGGER", "CORRELATION_HEADER", "CorrelationFilter", "JsonFormatter", "METER_NAME", "Metrics",
        "TelemetryConfig", "clean_correlation_id", "configure_logging", "configure_telemetry",
        "correlation_for_timer", "correlation_from_headers", "correlation_scope", "ensure_correlation_filter",
        "get_correlation_id", "get_logger", "metrics", "new_correlation_id", "observe_queue_depths",
        "parse_authentication_string", "setup_observability", "telemetry_config",
    ],
    "shared.services": [
        "ArImportError", "ConflictError", "EvaluationError", "ForbiddenError", "InvalidRequest",
        "NotFoundError", "ServiceError", "UpstreamError",
    ],
    "shared.services.fraud": [
        "CaseConflict", "CaseEffects", "CaseNotFound", "CaseRecord", "FraudScanItem", "FraudScanRun",
        "FraudStores", "ServiceRequestMessage", "add_note", "apply_assessment", "assess_shard", "case_ref",
        "contain", "deliver_service_request", "find_case", "load_rules", "raise_service_request",
        "record_ticket", "resolve_case", "start_scan", "stream", "sync_suspensions", "track_update",
    ],
    "shared.partner_center": sorted(PARTNER_CENTER_SURFACE),
    "shared.storage": ["EntityExists", "EntityNotFound", "EtagMismatch", "Row", "StorageError", "StorageUnavailable",
                       "Table", "Tables"],
}



def _packages() -> set[str]:
    """Every package under shared/ (a directory holding Python modules), at any depth."""
    found = set()
    for path in SHARED.rglob("*.py"):
        folder = path.parent
        if folder != SHARED and "__pycache__" not in folder.parts and "templates" not in folder.parts:
            found.add(".".join(folder.relative_to(SHARED.parent).parts))
    return found


def test_every_package_is_pinned() -> None:
    # a new package under shared/ needs its surface declared and pinned here
    assert _packages() == set(PINNED)


@pytest.mark.parametrize("package", sorted(PINNED))
def test_surface_is_pinned(package: str) -> None:
    module = importlib.import_module(package)
    declared = module.__all__
    assert sorted(declared) == PINNED[package], f"{package}.__all__ changed: update the pin if that is deliberate"
    assert len(set(declared)) == len(declared), "a name is listed twice"
    assert not [n for n in declared if n.startswith("_")]


@pytest.mark.parametrize("package", sorted(PINNED))
def test_every_public_name_is_importable(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"

