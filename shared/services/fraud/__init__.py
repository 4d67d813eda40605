"""Fraud services: the usage scan, cases and containment, service requests to 21Vianet (I/O around shared.fraud)."""

from shared.services.fraud.cases import CaseConflict, CaseNotFound, add_note, resolve_case, sync_suspensions
from shared.services.fraud.containment import contain
from shared.services.fraud.intake import CaseEffects, apply_assessment
from shared.services.fraud.requests import deliver_service_request, raise_service_request
from shared.services.fraud.scan import assess_shard, load_rules, start_scan, stream
from shared.services.fraud.store import CaseRecord, FraudScanRun, FraudStores
from shared.services.fraud.tickets import case_ref, find_case, record_ticket, track_update
from shared.services.messages import FraudScanItem, ServiceRequestMessage  # the payloads, by their old names here

__all__ = [
    "CaseConflict",
    "CaseEffects",
    "CaseNotFound",
    "CaseRecord",
    "FraudScanItem",
    "FraudScanRun",
    "FraudStores",
    "ServiceRequestMessage",
    "add_note",
    "apply_assessment",
    "assess_shard",
    "case_ref",
    "contain",
    "deliver_service_request",
    "find_case",
    "load_rules",
    "raise_service_request",
    "record_ticket",
    "resolve_case",
    "start_scan",
    "stream",
    "sync_suspensions",
    "track_update",
]
