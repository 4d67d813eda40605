"""Envelope kinds of the app's own messages (payment events use the event type as their kind)."""

ENFORCEMENT = "enforcement.action"
SWEEP_SHARD = "collections.sweep_shard"
NOTICE = "collections.notice"
SERVICE_REQUEST = "fraud.service_request"
FRAUD_SCAN = "fraud.scan"
