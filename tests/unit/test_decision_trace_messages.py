"""Messages and audit entries written before decisions were traced still parse; new ones round-trip the trace."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.collections import Reason
from shared.collections.decision import DecisionTrace
from shared.services.messages import CollectionsNotice, EnforcementRequest
from shared.storage.audit import AuditEntry

OLD_REQUEST = {"action": "reactivate", "customer_id": "c1", "reason": "nonpayment", "key": "c1:reactivate:g0",
               "detail": "paid", "actor": "csp-guard:sweep", "requested_at": "2026-03-02T09:00:00+00:00"}
OLD_NOTICE = {"customer_id": "c1", "key": "c1/k:overdue:notify_customer", "stage_id": "overdue",
              "template": "overdue_reminder"}
OLD_AUDIT = ('{"customer_id": "c1", "action": "suspend", "actor": "csp-guard", "reason": "nonpayment: x", '
             '"at": "2026-03-02T09:00:00Z", "correlation_id": "", "evidence": {}, "outcome": "done"}')
TRACE = DecisionTrace(fingerprint="f" * 32, policy_version="v1",
                      reasons=(Reason(code="stage", text="stage overdue: 3 days past due (threshold 1)"),))


def test_old_messages_and_audit_entries_parse_without_a_decision() -> None:
    assert EnforcementRequest.model_validate(OLD_REQUEST).decision is None
    assert CollectionsNotice.model_validate(OLD_NOTICE).decision is None
    assert AuditEntry.model_validate_json(OLD_AUDIT).decision is None


def test_the_trace_survives_the_queue_and_the_audit_table() -> None:
    request = EnforcementRequest.model_validate({**OLD_REQUEST, "decision": TRACE.model_dump(mode="json")})
    assert EnforcementRequest.model_validate(request.envelope().payload).decision == TRACE
    notice = CollectionsNotice.model_validate({**OLD_NOTICE, "decision": TRACE.model_dump(mode="json")})
    assert CollectionsNotice.model_validate(notice.envelope().payload).decision == TRACE
    entry = AuditEntry(customer_id="c1", action="suspend", actor="csp-guard", reason="r", at=datetime.now(UTC),
                       decision=TRACE)
    assert AuditEntry.model_validate_json(entry.model_dump_json()).decision == TRACE
